"""Decode every listed image once, before a run, and list the ones that cannot be read."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from cxr14_data.images import ImageDecodeError, decode_gray


def _decode_error(path: str) -> str | None:
    try:
        decode_gray(path)
    except (ImageDecodeError, OSError) as error:
        return str(error)
    return None


def unreadable_images(
    paths: Iterable[str | os.PathLike], workers: int | None = None, progress: bool = True
) -> dict[str, str]:
    """Decode each image (in ``workers`` processes); return ``{file name: error}`` of failures.

    Examples:
        >>> import tempfile, pathlib
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "bad.png"
        >>> _ = bad.write_bytes(b"not a png")
        >>> list(unreadable_images([bad], workers=0, progress=False))
        ['bad.png']
    """
    paths = [str(p) for p in paths]
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    bar = dict(total=len(paths), desc="verify images", unit="img", disable=not progress)
    if workers > 0 and len(paths) > 1:
        with ProcessPoolExecutor(workers) as pool:
            errors = list(tqdm(pool.map(_decode_error, paths, chunksize=32), **bar))
    else:
        errors = [_decode_error(p) for p in tqdm(paths, **bar)]
    return {Path(p).name: e for p, e in zip(paths, errors, strict=True) if e is not None}


def png_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(H, W)`` from the file's header (no decoding), ``None`` if unreadable."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
