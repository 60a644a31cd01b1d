"""The package's one file writer: a uniquely named temporary file beside the target, flushed and
``fsync``-ed, then renamed over it, and the folder ``fsync``-ed so that the rename survives a power
cut (a reader never sees half a file; two writers never share a temporary name); a failure
removes the temporary file and leaves the target as it was."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def _open_mode() -> int:
    """What a plain ``open`` would give: 0666 less the process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(path: Path, write: Callable[[IO], object], mode: str = "w") -> Path:
    """Call ``write(handle)`` on a temporary file opened with ``mode`` (``"w"``: UTF-8 text,
    ``"wb"``: bytes), then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(descriptor, _open_mode())  # mkstemp's 0600 would hide the file from a group
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # folders cannot be opened on Windows
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems refuse to fsync a folder
        pass
    finally:
        os.close(handle)
