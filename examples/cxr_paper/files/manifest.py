"""What a job wrote into its ``--out``, so that ``--overwrite`` deletes that and nothing else.

A job that holds a folder (:func:`cxr_paper.files.out_folder.claim`) keeps a manifest there,
:data:`MANIFEST_FILE`: a JSON header line with the job's kind, then one JSON line for every file or
folder it made, each appended *before* it is written (a crash leaves no file the manifest does not
name). Every writer of this project reports to it: :func:`~cxr_paper.files.atomic.atomic_write` does
so itself, and code that lets a library write (a maps file, the synthetic set, a staged folder)
calls :func:`record_output` first.

``--overwrite`` then removes the listed entries only, never through a symbolic link (a link is
removed, not what it points to), plus the temporary files of this project's writers beside them
(``.<name>.*.tmp*``); a folder without a manifest, or with another kind of job's, is refused.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from enum import StrEnum
from pathlib import Path, PurePosixPath

from cxr_paper.errors import RunError
from cxr_paper.files.durable import replace_atomically

MANIFEST_FILE = (
    ".cxr-outputs.manifest"  # JSON; no .json suffix, so that globs of a job's JSON outputs skip it
)
FORMAT_VERSION = 1

_ACTIVE: dict[str, OutputManifest] = {}


class JobKind(StrEnum):
    """The kinds of job that hold an output folder (a manifest's ``job``).

    Attributes:
        REPRODUCE: ``reproduce_paper.py``.
        SCORE: ``score_model.py``.
        PREDICT: ``predict.py``.
        SEED_STUDY: ``seed_study.py``.
        ABLATION: ``ablation.py``.
    """

    REPRODUCE = "reproduce"
    SCORE = "score"
    PREDICT = "predict"
    SEED_STUDY = "seed-study"
    ABLATION = "ablation"


def _check_entry(entry: object, where: Path) -> str:
    if not isinstance(entry, str) or not entry:
        raise RunError(f"{where}: an entry {entry!r} is not a relative path.")
    path = PurePosixPath(entry.rstrip("/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in entry:
        raise RunError(f"{where}: entry {entry!r} leaves its folder; the file was edited.")
    return entry


class OutputManifest:
    """The list of what one job wrote into ``folder``.

    Args:
        folder: The output folder.
        job: A :class:`JobKind` value.
        entries: Paths relative to ``folder`` already written.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> manifest = OutputManifest(folder, "predict").activate()
        >>> record_output(folder / "a.json")
        >>> _ = (folder / "a.json").write_text("{}"); _ = (folder / "mine.txt").write_text("x")
        >>> manifest.deactivate()
        >>> OutputManifest.read(folder).entries
        ['a.json']
        >>> OutputManifest.read(folder).remove_listed()
        >>> sorted(p.name for p in folder.iterdir())
        ['mine.txt']
    """

    def __init__(self, folder: Path, job: str, entries: list[str] | None = None) -> None:
        self.folder = Path(folder)
        self.job = job
        self.entries: list[str] = list(entries or [])
        self._listed = set(self.entries)
        self._key = Path(os.path.abspath(self.folder))

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_FILE

    @classmethod
    def read(cls, folder: Path) -> OutputManifest | None:
        """The manifest in ``folder``, ``None`` if there is none; a damaged one is refused."""
        path = Path(folder) / MANIFEST_FILE
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise RunError(f"{path}: not a regular file; remove it by hand.")
        if not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
            # every line ends with a newline; what follows the last is empty, or a line torn by
            # a crash, whose file was never written (entries are listed before their files)
            lines = text.split("\n")[:-1]
            header = json.loads(lines[0]) if lines else None
            entries = [json.loads(line) for line in lines[1:]]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunError(f"{path}: not a readable manifest ({error}).") from None
        if (
            not isinstance(header, dict)
            or header.get("version") != FORMAT_VERSION
            or not isinstance(header.get("job"), str)
        ):
            raise RunError(
                f"{path}: expected a first line {{'version': {FORMAT_VERSION}, 'job': str}}, "
                "then one JSON string an entry."
            )
        return cls(folder, header["job"], [_check_entry(e, path) for e in entries])

    def record(self, path: Path, folder: bool = False) -> None:
        """List ``path`` (inside :attr:`folder`; ``folder=True``: a folder the job makes whole)
        and save the list, before the caller writes it."""
        relative = Path(os.path.abspath(path)).relative_to(self._key).as_posix()
        entry = relative + "/" if folder else relative
        if relative in (".", MANIFEST_FILE) or entry in self._listed:
            return
        self.entries.append(entry)
        self._listed.add(entry)
        # appended, not rewritten: a job writing N files costs O(N), and a crash tears at most
        # the last line, whose file was never written
        handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.write(handle, (json.dumps(entry) + "\n").encode("utf-8"))
            os.fsync(handle)
        finally:
            os.close(handle)

    def save(self) -> None:
        """Write the whole list atomically (a temporary file renamed over it, both fsync-ed):
        a header line, then one JSON string an entry."""
        lines = [json.dumps({"version": FORMAT_VERSION, "job": self.job})]
        lines += [json.dumps(entry) for entry in self.entries]
        text = "\n".join(lines) + "\n"
        replace_atomically(self.path, lambda p: p.write_text(text, encoding="utf-8"))

    def activate(self) -> OutputManifest:
        """Start listing what this process writes under :attr:`folder` (saved at once)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.save()
        _ACTIVE[str(self._key)] = self
        return self

    def deactivate(self) -> None:
        if _ACTIVE.get(str(self._key)) is self:
            del _ACTIVE[str(self._key)]

    def remove_listed(self) -> None:
        """Remove every listed entry that is still there (links themselves, never their
        targets; nothing reached through a link), the writers' temporary files beside them,
        folders left empty by that, and the manifest."""
        for entry in reversed(self.entries):
            parts = PurePosixPath(entry.rstrip("/")).parts
            parent = self.folder
            if any((parent := parent / part).is_symlink() for part in parts[:-1]):
                continue
            if not parent.is_dir():
                continue
            _remove(parent / parts[-1])
            for leftover in parent.glob(f".{glob.escape(Path(parts[-1]).stem)}.*.tmp*"):
                _remove(leftover)
            for depth in range(len(parts) - 1, 0, -1):
                with contextlib.suppress(OSError):  # not empty: it holds something else
                    (self.folder.joinpath(*parts[:depth])).rmdir()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def record_output(path: Path, folder: bool = False) -> None:
    """Tell the manifest of the held folder that contains ``path`` (the innermost, if folders
    nest) that the job is about to write it; nothing if no held folder contains it.

    A symbolic link between the held folder and ``path`` is refused (:class:`RunError`): links
    in the folder's own path are the user's, links inside it could send a write elsewhere.

    Args:
        path: The file or folder about to be written.
        folder: Whether ``path`` is a folder.

    Raises:
        RunError: A symbolic link between the held folder and ``path``.
    """
    path = Path(os.path.abspath(path))
    for candidate in (path.parent, *path.parent.parents):
        manifest = _ACTIVE.get(str(candidate))
        if manifest is not None:
            below = path.relative_to(candidate).parts
            inside = candidate
            for part in below[:-1]:
                inside = inside / part
                if inside.is_symlink():
                    raise RunError(
                        f"{inside} is a symbolic link inside the output folder {candidate}; "
                        "a job writes only into real folders there. Remove the link."
                    )
            manifest.record(path, folder)
            return
