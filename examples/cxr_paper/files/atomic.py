"""Writing a job's outputs: each file listed in its output folder's manifest
(:mod:`cxr_paper.files.manifest`), then written atomically (:mod:`cxr_paper.files.durable`);
folders written whole (a saved model, the report's files) swapped in by :func:`staged_folder`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cxr_paper.files.durable import (
    default_mode,
    disk_full,
    fsync_path,
    is_disk_full,
    replace_atomically,
)
from cxr_paper.files.manifest import record_output

__all__ = ["atomic_text", "atomic_write", "default_mode", "replace_atomically", "staged_folder"]


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)``, then make its file ``path`` atomically; ``path`` is first
    listed in the manifest of the output folder that holds it
    (:func:`cxr_paper.files.manifest.record_output`).

    The temporary name keeps ``path``'s suffix (``np.savez`` and ``torch.save`` care), so
    ``write`` may use any library's ``save(filename)``.

    Args:
        path: The file to make.
        write: Writes the content to the path it is given.

    Returns:
        ``path``.

    Raises:
        RunError: The disk is full, or a symbolic link inside the output folder.

    Examples:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(target, lambda p: p.write_text("done")).read_text()
        'done'
        >>> sorted(p.name for p in target.parent.iterdir())
        ['a.txt']
    """
    record_output(path)
    return replace_atomically(path, write)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A folder written whole, then swapped in for ``target``: yields an empty staging folder
    beside it (listed in the manifest with ``target``); on success the old ``target`` is
    replaced, on failure the staging folder is removed and ``target`` is left as it was.

    Args:
        target: The folder to replace.

    Yields:
        The staging folder.

    Examples:
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
        if is_disk_full(error):
            raise disk_full(target.parent) from None
        raise
    shutil.rmtree(previous, ignore_errors=True)
    fsync_path(target.parent)


def atomic_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path: The file to make.
        text: Its content.

    Returns:
        ``path``.
    """
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
