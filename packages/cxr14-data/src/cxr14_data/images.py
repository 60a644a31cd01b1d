"""Finding and decoding the NIH PNGs (and any other image Pillow reads) as one uint8 gray channel.

Layouts: ``ROOT/images/*.png`` or, as the 12 archives unpack, ``ROOT/images_001/images/*.png``
... ``ROOT/images_012/images/*.png``. Most images are 8-bit grayscale; some are RGBA (or RGB,
gray + alpha); other sources give 16-bit grayscale. All decode to one uint8 gray channel.

Before any pixel is decoded, the size the file's header claims is checked against
:data:`MAX_IMAGE_PIXELS` (a 69-byte PNG can claim 20000 x 20000): a larger image is refused as an
:class:`ImageDecodeError`, like any other unreadable image.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_GLOBS = ("images/*.png", "images_*/images/*.png", "images_*/*.png")

#: The most pixels (rows x columns x frames) an image may claim before it is refused unread:
#: 64 Mpx, eight times the largest detector (43 x 43 cm at 0.1 mm, about 4300 x 4300). Set it
#: (``cxr14_data.images.MAX_IMAGE_PIXELS = ...``) or pass ``max_pixels=`` to read larger ones.
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
#: Bit depths a 16-bit container holds in practice (detectors store 10, 12, 14 or 16 bits).
STORED_BIT_DEPTHS = (8, 10, 12, 14, 16)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pillow's modes of 16-bit (and 32-bit) gray and their raw byte layouts.
SIXTEEN_BIT_MODES = {"I;16": "<u2", "I;16B": ">u2", "I;16L": "<u2", "I": "=i4"}
EXIF_ORIENTATION = 0x0112


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


def check_pixel_count(path: str | os.PathLike, pixels: int, max_pixels: int | None) -> None:
    """Refuse an image whose header claims more than ``max_pixels`` (default
    :data:`MAX_IMAGE_PIXELS`) pixels, before anything is decoded."""
    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if pixels > limit:
        raise ImageDecodeError(
            f"{path}: its header claims {pixels:,} pixels, above the limit of {limit:,} "
            "(cxr14_data.images.MAX_IMAGE_PIXELS); a damaged or hostile file, or raise the limit."
        )


def png_significant_bits(path: str | os.PathLike) -> int | None:
    """The gray channel's significant bits from a PNG's ``sBIT`` chunk, ``None`` without one.

    The chunk layout is the PNG specification's (W3C, Portable Network Graphics Specification,
    3rd ed., 11.3.2.4 "sBIT Significant bits"): for colour type 0 (gray) one byte, for 4 (gray +
    alpha) two, the gray channel's first. Chunks are walked up to the first ``IDAT``.
    """
    with open(path, "rb") as handle:
        if handle.read(8) != PNG_SIGNATURE:
            return None
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind in (b"IDAT", b"IEND") or length > 1 << 20:
                return None
            data = handle.read(length)
            handle.seek(4, os.SEEK_CUR)  # CRC
            if kind == b"sBIT" and data:
                return int(data[0])


def stored_bits(path: str | os.PathLike, array: np.ndarray) -> int:
    """How many of a 16-bit image's bits hold the signal: the ``sBIT`` chunk if the file has
    one, else the smallest of :data:`STORED_BIT_DEPTHS` that holds the image's maximum (a 12-bit
    detector's image, 0 ... 4095, stored in 16 bits, is 12-bit; a dark true 16-bit image without
    ``sBIT`` whose maximum is below 16384 is read as 14-bit, so it comes out brighter)."""
    declared = png_significant_bits(path)
    if declared is not None and 1 <= declared <= 16:
        return declared
    needed = int(np.ceil(np.log2(float(array.max()) + 1.0))) if array.size else 8
    return next(bits for bits in STORED_BIT_DEPTHS if bits >= needed)


def _sixteen_bits_to_uint8(path: Path, array: np.ndarray) -> np.ndarray:
    """A 16-bit (or 32-bit holding 16) gray array as uint8 through a 65,536-entry lookup table:
    no floating-point copy of the image is made."""
    if array.dtype != np.uint16:
        if array.size and (array.max() > 65535 or array.min() < 0):
            raise ImageDecodeError(f"{path}: 32-bit image with values beyond 16 bits.")
        array = array.astype(np.uint16)
    top = float(2 ** stored_bits(path, array) - 1)
    table = np.clip(np.rint(np.arange(65536, dtype=np.float64) / top * 255.0), 0, 255)
    table = table.astype(np.uint8)
    out = np.empty(array.shape, np.uint8)
    rows = max(1, (1 << 20) // max(array.shape[-1], 1))  # indexing makes an int64 copy: bound it
    for start in range(0, array.shape[0], rows):
        out[start : start + rows] = table[array[start : start + rows]]
    return out


def decode_gray(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Decode a PNG (or JPEG, TIFF, ...) to a uint8 ``(H, W)`` gray array.

    16-bit images are scaled by the range of their stored bits (:func:`stored_bits`: ``sBIT``,
    else the bit depth their maximum needs), so a 12-bit image in 16 bits is not nearly black;
    colour is converted with ITU-R 601 luma weights; alpha is dropped; an EXIF orientation is
    applied (a rotated JPEG comes out upright). Images claiming more than ``max_pixels`` (default
    :data:`MAX_IMAGE_PIXELS`) are refused before decoding.

    Memory beyond the file, at its peak: about 2 bytes a pixel for 8-bit gray (Pillow's image,
    the array), 6 for 16-bit (Pillow's image, its bytes, the uint8 result: 16 bits go through a
    lookup table, never through floats): 6 MB a megapixel, 385 MB measured for an 8192 x 8192
    16-bit PNG (converting it to float64 took 1.9 GB).

    Examples:
        >>> import tempfile, pathlib, numpy as np
        >>> from PIL import Image
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.png"
        >>> Image.fromarray(np.full((4, 5), 4095, dtype=np.uint16)).save(path)  # 12-bit white
        >>> decode_gray(path).shape, int(decode_gray(path).max())
        ((4, 5), 255)
    """
    path = Path(path)
    try:
        with Image.open(path) as opened:
            check_pixel_count(path, opened.width * opened.height, max_pixels)
            # exif_transpose returns a copy even when there is nothing to turn: only when there is
            oriented = opened.getexif().get(EXIF_ORIENTATION, 1) not in (1, None)
            image = ImageOps.exif_transpose(opened) if oriented else opened
            image.load()
            mode = image.mode
            if mode in SIXTEEN_BIT_MODES:
                # a view of Pillow's bytes (np.asarray would copy them once more)
                pixels = np.frombuffer(image.tobytes(), SIXTEEN_BIT_MODES[mode])
                return _sixteen_bits_to_uint8(path, pixels.reshape(image.height, image.width))
            if mode == "L":
                return np.asarray(image, dtype=np.uint8).copy()
            if mode in ("RGB", "RGBA", "LA", "P", "1", "CMYK", "PA", "La", "RGBa"):
                return np.asarray(image.convert("L"), dtype=np.uint8).copy()
            raise ImageDecodeError(f"{path}: unsupported image mode {mode!r}.")
    except FileNotFoundError:
        raise
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"{path}: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as error:
        raise ImageDecodeError(f"{path}: cannot decode image ({error}).") from error
