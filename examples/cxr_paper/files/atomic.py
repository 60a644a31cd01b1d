"""One way to write a file that a reader (or a crash) never sees half-written.

The content goes to a uniquely named temporary file in the target's folder (two writers never
share one), is given the permissions a plain ``open`` would, flushed and ``fsync``-ed, and is
renamed over the target; the folder is then
``fsync``-ed so that the rename itself survives a power cut (POSIX; a no-op where folders cannot
be opened). A failure removes the temporary file and leaves the previous target untouched; a
full disk is one :class:`~cxr_paper.errors.RunError` naming the folder and its free space.
Folders written whole (a saved model, the report's files) are swapped in by
:func:`staged_folder`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cxr_paper.errors import RunError
from cxr_paper.files.manifest import record_output


def _fsync_path(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        handle = os.open(path, flags)
    except OSError:  # a folder on Windows
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems refuse to fsync a folder
        pass
    finally:
        os.close(handle)


def default_mode(folder: bool = False) -> int:
    """The permissions ``open``/``mkdir`` would give under the process's umask (``mkstemp`` and
    ``mkdtemp`` give 0600/0700, which would hide a run's files from the rest of a group)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)``, then make its file ``path`` atomically; ``path`` is first
    listed in the manifest of the output folder that holds it
    (:func:`cxr_paper.files.manifest.record_output`).

    The temporary name keeps ``path``'s suffix (``np.savez`` and ``torch.save`` care), so
    ``write`` may use any library's ``save(filename)``.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(target, lambda p: p.write_text("done")).read_text()
        'done'
        >>> sorted(p.name for p in target.parent.iterdir())
        ['a.txt']
    """
    record_output(path)
    return replace_atomically(path, write)


def replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """:func:`atomic_write` without the manifest (the manifest's own writer). A full disk is one
    :class:`~cxr_paper.errors.RunError` naming the folder and its free space."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, default_mode())
        _fsync_path(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if _is_disk_full(error):
            raise disk_full(path.parent) from None
        raise
    _fsync_path(path.parent)
    return path


def _is_disk_full(error: BaseException) -> bool:
    """``ENOSPC``/``EDQUOT`` as an ``OSError``, or inside the ``RuntimeError`` that
    ``torch.save``'s zip writer raises for it."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and _is_disk_full(cause)


def disk_full(folder: Path) -> RunError:
    """The one-line error for a write that ran out of space in ``folder``."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return RunError(f"{folder}: no space left on the device; free some and rerun.")
    return RunError(
        f"{folder}: no space left on the device ({free / 2**20:.0f} MiB free); free some "
        "and rerun (a run continues with --resume)."
    )


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A folder written whole, then swapped in for ``target``: yields an empty staging folder
    beside it (listed in the manifest with ``target``); on success the old ``target`` is
    replaced, on failure the staging folder is removed and ``target`` is left as it was.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "pretrained"
        >>> with staged_folder(target) as staging:
        ...     _ = (staging / "weights.txt").write_text("new")
        >>> sorted(p.name for p in target.parent.iterdir()), (target / "weights.txt").read_text()
        (['pretrained'], 'new')
    """
    target = Path(target)
    record_output(target, folder=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        staging.chmod(default_mode(folder=True))
        yield staging
        for written in staging.rglob("*"):  # libraries that write 0600 whatever the umask
            if not written.is_symlink():
                written.chmod(default_mode(folder=written.is_dir()))
        previous = staging.with_name(f"{staging.name}.old")
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            target.rename(previous)
        staging.rename(target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if _is_disk_full(error):
            raise disk_full(target.parent) from None
        raise
    shutil.rmtree(previous, ignore_errors=True)
    _fsync_path(target.parent)


def atomic_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
