"""The one low-level way to write a file that a reader (or a crash) never sees half-written.

The content goes to a uniquely named temporary file in the target's folder (two writers never
share one), is given the permissions a plain ``open`` would, flushed and ``fsync``-ed, and is
renamed over the target; the folder is then ``fsync``-ed so that the rename itself survives a
power cut (POSIX; a no-op where folders cannot be opened). A failure removes the temporary file
and leaves the previous target untouched; a full disk is one :class:`~cxr_paper.errors.RunError`
naming the folder and its free space. Jobs write through :mod:`cxr_paper.files.atomic`, which
lists each file in the output folder's manifest first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cxr_paper.errors import RunError


def fsync_path(path: Path) -> None:
    """Flush ``path`` (a file or a folder) to the disk, where the platform can.

    Args:
        path: A file or a folder.
    """
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
    ``mkdtemp`` give 0600/0700, which would hide a run's files from the rest of a group).

    Args:
        folder: Whether for a folder.

    Returns:
        The mode bits.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)``, then make its file ``path`` atomically (the module's
    note). The temporary name keeps ``path``'s suffix (``np.savez`` and ``torch.save`` care).

    Args:
        path: The file to make.
        write: Writes the content to the path it is given.

    Returns:
        ``path``.

    Examples:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> replace_atomically(target, lambda p: p.write_text("done")).read_text()
        'done'
    """
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
        fsync_path(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if is_disk_full(error):
            raise disk_full(path.parent) from None
        raise
    fsync_path(path.parent)
    return path


def is_disk_full(error: BaseException) -> bool:
    """``ENOSPC``/``EDQUOT`` as an ``OSError``, or inside the ``RuntimeError`` that
    ``torch.save``'s zip writer raises for it.

    Args:
        error: An exception.

    Returns:
        Whether it means no space is left.
    """
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_disk_full(cause)


def disk_full(folder: Path) -> RunError:
    """The one-line error for a write that ran out of space in ``folder``.

    Args:
        folder: Where the write was.

    Returns:
        The error, naming ``folder`` and the MiB still free.
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return RunError(f"{folder}: no space left on the device; free some and rerun.")
    return RunError(
        f"{folder}: no space left on the device ({free / 2**20:.0f} MiB free); free some "
        "and rerun (a run continues with --resume)."
    )
