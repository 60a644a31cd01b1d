"""Finding and decoding the NIH PNGs.

Layouts: ``ROOT/images/*.png`` or, as the 12 archives unpack, ``ROOT/images_001/images/*.png``
... ``ROOT/images_012/images/*.png``. Most images are 8-bit grayscale; some are RGBA (or RGB,
gray + alpha); other sources give 16-bit grayscale. All decode to one uint8 gray channel.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_GLOBS = ("images/*.png", "images_*/images/*.png", "images_*/*.png")


class ImageDecodeError(OSError):
    """An image file exists but cannot be decoded."""


def find_images(root: str | os.PathLike) -> dict[str, Path]:
    """Map image file name -> path, over both NIH layouts.

    Raises ``FileNotFoundError`` if ``root`` has no ``images`` folder of either layout.
    """
    root = Path(root)
    found: dict[str, Path] = {}
    for pattern in IMAGE_GLOBS:
        for path in sorted(root.glob(pattern)):
            found.setdefault(path.name, path)
    if not found:
        raise FileNotFoundError(
            f"No PNG images under {root}: expected {root}/images/*.png or "
            f"{root}/images_001/images/*.png ... (the NIH archives unpacked in place)."
        )
    return found


def decode_gray(path: str | os.PathLike) -> np.ndarray:
    """Decode a PNG to a uint8 ``(H, W)`` gray array (8/16-bit gray, RGB, RGBA, gray + alpha).

    16-bit images are scaled by their full range (``value / 257``); colour is converted with
    ITU-R 601 luma weights; alpha is dropped.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> from PIL import Image
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.png"
        >>> Image.fromarray(np.full((4, 5), 65535, dtype=np.uint16)).save(path)
        >>> decode_gray(path).shape, int(decode_gray(path).max())
        ((4, 5), 255)
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float64)
                if mode == "I" and array.max() > 65535:
                    raise ImageDecodeError(f"{path}: 32-bit image with values beyond 16 bits.")
                return np.clip(np.rint(array / 257.0), 0, 255).astype(np.uint8)
            if mode == "L":
                return np.asarray(image, dtype=np.uint8).copy()
            if mode in ("RGB", "RGBA", "LA", "P", "1", "CMYK"):
                return np.asarray(image.convert("L"), dtype=np.uint8).copy()
            raise ImageDecodeError(f"{path}: unsupported PNG mode {mode!r}.")
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageDecodeError):
            raise
        raise ImageDecodeError(f"{path}: cannot decode image ({error}).") from error
