"""An output folder that one writer holds at a time, and that a new job does not silently reuse.

:func:`claim` is what every writing script calls on its ``--out`` before writing anything: a
folder that already holds files is refused unless the job continues it (``--resume``) or replaces
it (``--overwrite``: what the same kind of job listed in the folder's manifest is removed first,
and nothing else, :mod:`cxr_paper.files.manifest`; a folder without such a manifest is refused, so
a mistyped ``--out $HOME`` deletes nothing). The folder is then locked (an advisory ``flock`` on
``.lock``, released by the kernel when the process ends, so a killed run leaves no stale lock;
a ``.lock`` that is a symbolic link is refused, never followed): a second writer is refused with
the holder's process id and host.

Under ``torchrun`` only rank 0 claims and writes; the other ranks compute and wait.
"""

from __future__ import annotations

import os
import socket
import stat
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType

from cxr_paper.errors import RunError
from cxr_paper.files.manifest import MANIFEST_FILE, OutputManifest

LOCK_FILE = ".lock"
#: Files of the folder's bookkeeping, not of the job's output.
BOOKKEEPING = (LOCK_FILE, MANIFEST_FILE)

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; the other checks still apply
    fcntl = None  # type: ignore[assignment]


class FolderLock:
    """An exclusive, non-blocking lock on ``folder/.lock`` that names its holder.

    Args:
        folder: The folder to lock; created if missing.

    Examples:
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
        self.manifest: OutputManifest | None = None

    def acquire(self) -> FolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_FILE
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as error:
            raise RunError(
                f"{path}: cannot be opened as this folder's lock ({error.strerror}); a link or "
                "a folder there is not followed: remove it by hand."
            ) from None
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            os.close(handle)
            raise RunError(f"{path}: not a regular file; remove it by hand.")
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
        if self.manifest is not None:
            self.manifest.deactivate()
            self.manifest = None
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
    """Whether ``folder`` exists and holds anything but its lock file and manifest.

    Args:
        folder: Any path.

    Returns:
        Whether it holds a user's or an earlier job's files.
    """
    return folder.is_dir() and any(p.name not in BOOKKEEPING for p in folder.iterdir())


def check_out(folder: Path, *, resume: bool, overwrite: bool, job: str | None) -> None:
    """Refuse, before any work, an ``--out`` that holds files, unless continued or replaced.

    ``job``: the kind of job (``"reproduce"``, ``"score"``, ...); ``--overwrite`` is allowed
    only where a manifest of that kind of job lists what it may remove (``None``: the job
    replaces same-named files and removes nothing).

    Args:
        folder: The output folder.
        resume: Whether the job continues what is there.
        overwrite: Whether the job may replace what an earlier job of its kind wrote.
        job: The kind of job, or ``None``.

    Raises:
        RunError: Naming the folder and what to do.
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
    if job is None:
        return
    manifest = OutputManifest.read(folder)
    if manifest is None or manifest.job != job:
        found = (
            "no list of what a job wrote there"
            if manifest is None
            else (f"the output of a {manifest.job!r} job, not of {job!r}")
        )
        raise RunError(
            f"--out {folder} holds files and {found} ({MANIFEST_FILE}), so --overwrite deletes "
            "nothing there (folders written before this version have none): remove by hand what "
            "you want gone, or choose another --out."
        )


def claim(folder: Path, *, resume: bool, overwrite: bool, job: str | None = None) -> FolderLock:
    """:func:`check_out`, then lock ``folder``; with ``overwrite``, remove what the earlier
    job's manifest lists; then list in the folder's manifest whatever this process writes
    there (continued on ``resume``). Returns the held :class:`FolderLock`; release it when the
    job ends.

    Args:
        folder: The output folder.
        resume: Whether the job continues what is there.
        overwrite: Whether to remove what the earlier job listed.
        job: The kind of job, or ``None``.

    Returns:
        The held lock.
    """
    check_out(folder, resume=resume, overwrite=overwrite, job=job)
    lock = FolderLock(folder).acquire()
    try:
        earlier = OutputManifest.read(folder)
        if overwrite and not resume and earlier is not None and job is not None:
            earlier.remove_listed()
            earlier = None
        kind = job or "unnamed"
        if earlier is not None and (resume or earlier.job == kind):
            kind, entries = earlier.job, earlier.entries  # a job adding to a run lists there
        else:
            entries = []
        lock.manifest = OutputManifest(folder, kind, entries).activate()
    except BaseException:
        lock.release()
        raise
    return lock


def lock_on_main(folder: Path, job: str) -> AbstractContextManager:
    """:func:`claim` of ``folder`` for a job that adds to it (``resume``) in rank 0 of a
    ``torchrun`` job (``RANK``), nothing on the other ranks, which do not write.

    Args:
        folder: The output folder.
        job: The kind of job.

    Returns:
        A context manager holding the lock on rank 0.
    """
    if int(os.environ.get("RANK", "0")) != 0:
        return nullcontext()
    return _LazyClaim(folder, job)


class _LazyClaim:
    """A :func:`claim` taken on entering the ``with`` block."""

    def __init__(self, folder: Path, job: str) -> None:
        self.folder, self.job = Path(folder), job
        self.lock: FolderLock | None = None

    def __enter__(self) -> FolderLock:
        self.lock = claim(self.folder, resume=True, overwrite=False, job=self.job)
        return self.lock

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.release()


def is_main_process() -> bool:
    """Rank 0 of a ``torchrun`` job, or a plain process.

    Returns:
        Whether this process writes.
    """
    return int(os.environ.get("RANK", "0")) == 0
