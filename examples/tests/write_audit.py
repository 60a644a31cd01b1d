"""Every write, rename and removal a piece of code makes in this process, seen through Python's
audit hooks (PEP 578): ``open`` for writing, ``os.rename``/``os.replace``, ``os.remove``,
``os.rmdir``, ``shutil.rmtree``, ``os.mkdir``, ``os.symlink``, ``os.truncate``. A hook cannot be
removed once added, so one hook is added on first use and records only inside
:func:`audited_writes`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_recorders: list[list[tuple[str, str]]] = []
_installed = False
#: What the session's smoke run (``conftest.smoke_run``) wrote, recorded while it ran.
SMOKE_RUN_WRITES: list[tuple[str, str]] = []


def _path(value: object, dir_fd: object = None) -> str | None:
    if isinstance(value, int):  # a file descriptor: its target is not a path
        return None
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, str | os.PathLike):
        return None
    if isinstance(dir_fd, int) and not os.path.isabs(value):  # shutil.rmtree's fd-relative calls
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), os.fspath(value))
    return os.path.abspath(os.fspath(value))


def _writes(event: str, args: tuple) -> list[tuple[str, str]]:
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        return [("open", p)] if writing and (p := _path(path)) else []
    if event in ("os.rename", "os.replace"):
        found = (_path(args[0], args[2]), _path(args[1], args[3]))
        return [(event, p) for p in found if p]
    if event in ("os.remove", "os.rmdir", "shutil.rmtree"):
        return [(event, p)] if (p := _path(args[0], args[1])) else []
    if event == "os.mkdir":
        return [(event, p)] if (p := _path(args[0], args[2])) else []
    if event == "os.truncate":
        return [(event, p)] if (p := _path(args[0])) else []
    if event == "os.symlink":
        return [(event, p)] if (p := _path(args[1], args[2])) else []
    return []


def _hook(event: str, args: tuple) -> None:
    if _recorders and event in _EVENTS:
        found = _writes(event, args)
        for recorder in _recorders:
            recorder.extend(found)


_EVENTS = frozenset(
    {
        "open",
        "os.rename",
        "os.replace",
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.truncate",
        "os.symlink",
        "shutil.rmtree",
    }
)


@contextlib.contextmanager
def audited_writes() -> Iterator[list[tuple[str, str]]]:
    """Yield a list that fills with ``(event, absolute path)`` for every write this process
    makes until the block ends."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    recorder: list[tuple[str, str]] = []
    _recorders.append(recorder)
    try:
        yield recorder
    finally:
        _recorders.remove(recorder)


def outside(writes: list[tuple[str, str]], *allowed: Path) -> list[tuple[str, str]]:
    """The writes whose path lies in none of the ``allowed`` folders (by real path; ``/dev``,
    where ``/dev/null`` is, always allowed)."""
    roots = [os.path.realpath(a) for a in (*allowed, "/dev")]

    def inside(path: str) -> bool:
        real = os.path.realpath(path)
        return any(real == r or real.startswith(r + os.sep) for r in roots)

    return [(event, path) for event, path in writes if not inside(path)]


def unlisted(writes: list[tuple[str, str]], folder: Path) -> list[str]:
    """Final paths written under ``folder`` that its manifest does not cover (a listed file,
    or a path inside a listed folder); the writers' temporary files (``.<name>.*.tmp*``) and
    the bookkeeping files are not outputs."""
    from cxr_paper.files.manifest import OutputManifest
    from cxr_paper.files.out_folder import BOOKKEEPING

    manifest = OutputManifest.read(folder)
    entries = manifest.entries if manifest is not None else []
    root = os.path.realpath(folder)
    missing = set()
    for event, path in writes:
        if event not in ("open", "os.rename", "os.replace", "os.mkdir"):
            continue
        real = os.path.realpath(path)
        if not real.startswith(root + os.sep):
            continue
        relative = Path(real).relative_to(root)
        if relative.parts[0] in BOOKKEEPING or any(
            p.startswith(".") and ".tmp" in p for p in relative.parts
        ):
            continue
        text = relative.as_posix()
        if event == "os.mkdir" and any(e.startswith(text + "/") for e in entries):
            continue  # a parent folder of listed files
        if not any(
            e in (text, text + "/") or (e.endswith("/") and text.startswith(e)) for e in entries
        ):
            missing.add(text)
    return sorted(missing)
