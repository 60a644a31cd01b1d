"""An output folder that one writer holds at a time, and that a new job does not silently reuse.

:func:`claim` is what every writing script calls on its ``--out`` before writing anything: a
folder that already holds files is refused unless the job continues it (``--resume``) or replaces
it (``--overwrite``: its files are removed first, and only if the folder holds this kind of job's
output, so a mistyped ``--out $HOME`` deletes nothing). The folder is then locked (an advisory
``flock`` on ``.lock``, released by the kernel when the process ends, so a killed run leaves no
stale lock): a second writer is refused with the holder's process id and host.

Under ``torchrun`` only rank 0 claims and writes; the other ranks compute and wait.
"""

from __future__ import annotations

import os
import shutil
import socket
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType

from cxr_paper.errors import RunError

LOCK_FILE = ".lock"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; the other checks still apply
    fcntl = None  # type: ignore[assignment]


class FolderLock:
    """An exclusive, non-blocking lock on ``folder/.lock`` that names its holder.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with FolderLock(folder):
        ...     FolderLock(folder).acquire()
        Traceback (most recent call last):
        cxr_paper.errors.RunError: ...is being written by process ...
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._handle: int | None = None

    def acquire(self) -> FolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_FILE
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(handle, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(handle)
                raise RunError(
                    f"{self.folder} is being written by process {holder}; wait for it to "
                    "finish, or choose another --out."
                ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)  # closing releases the flock
            self._handle = None

    def __enter__(self) -> FolderLock:
        return self if self._handle is not None else self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def holds_files(folder: Path) -> bool:
    """Whether ``folder`` exists and holds anything but its lock file."""
    return folder.is_dir() and any(p.name != LOCK_FILE for p in folder.iterdir())


def check_out(folder: Path, *, resume: bool, overwrite: bool, marker: str | None) -> None:
    """Refuse, before any work, an ``--out`` that holds files, unless continued or replaced.

    ``marker``: the file this kind of job writes there (``config.json``, ``score.json``);
    ``--overwrite`` removes a folder's contents only when the marker is there (``None``: the job
    replaces same-named files and removes nothing).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"--out {folder}: a file, not a folder.")
    if resume or not holds_files(folder):
        return
    if not overwrite:
        raise RunError(
            f"--out {folder} already holds files; pass --resume to continue that job, "
            "--overwrite to replace it, or choose another --out."
        )
    if marker is not None and not (folder / marker).is_file():
        raise RunError(
            f"--out {folder} holds files but no {marker}: not this kind of output, so "
            "--overwrite will not delete it; choose another --out."
        )


def claim(folder: Path, *, resume: bool, overwrite: bool, marker: str | None = None) -> FolderLock:
    """:func:`check_out`, then lock ``folder`` and, with ``overwrite``, empty it (keeping the
    lock). Returns the held :class:`FolderLock`; release it when the job ends."""
    check_out(folder, resume=resume, overwrite=overwrite, marker=marker)
    lock = FolderLock(folder).acquire()
    if overwrite and not resume and marker is not None:
        for entry in folder.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    return lock


def lock_on_main(folder: Path) -> AbstractContextManager:
    """:class:`FolderLock` on ``folder`` in rank 0 of a ``torchrun`` job (``RANK``), nothing on
    the other ranks, which do not write."""
    return FolderLock(folder) if int(os.environ.get("RANK", "0")) == 0 else nullcontext()


def is_main_process() -> bool:
    """Rank 0 of a ``torchrun`` job, or a plain process."""
    return int(os.environ.get("RANK", "0")) == 0
