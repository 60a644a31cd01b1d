"""One way to write a file that a reader (or a crash) never sees half-written.

The content goes to a uniquely named temporary file in the target's folder (two writers never
share one), is given the permissions a plain ``open`` would, flushed and ``fsync``-ed, and is
renamed over the target; the folder is then
``fsync``-ed so that the rename itself survives a power cut (POSIX; a no-op where folders cannot
be opened). A failure removes the temporary file and leaves the previous target untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
    """Call ``write(temporary_path)``, then make its file ``path`` atomically.

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
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_path(path.parent)
    return path


def atomic_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
