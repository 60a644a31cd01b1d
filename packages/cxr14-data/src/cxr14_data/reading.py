"""Any chest X-ray file as one uint8 gray array: PNG, JPEG (and whatever else Pillow decodes), and
DICOM through the optional ``[dicom]`` extra (pydicom).

DICOM pixels go through the modality LUT (rescale slope and intercept) and the VOI LUT (the window
the file asks for), MONOCHROME1 is inverted so that bone is bright as in NIH's PNGs, and the result
is scaled to 0-255 by its own range. A multi-frame or colour DICOM is refused by name: which frame
or channel is the radiograph is the user's call, not a silent average. The pixel count the
header claims (rows x columns x frames x samples, read with ``stop_before_pixels``) is checked
against :data:`~cxr14_data.images.MAX_IMAGE_PIXELS` before any pixel data is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cxr14_data.images import ImageDecodeError, check_pixel_count, decode_gray

DICOM_SUFFIXES = (".dcm", ".dicom")
DICOM_MAGIC_OFFSET = 128
INSTALL_DICOM = "pip install './packages/cxr14-data[dicom]' (or pip install pydicom)"


def is_dicom(path: str | os.PathLike) -> bool:
    """By suffix, or by the ``DICM`` marker after the 128-byte preamble."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    with open(path, "rb") as handle:
        handle.seek(DICOM_MAGIC_OFFSET)
        return handle.read(4) == b"DICM"


def read_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read a PNG, JPEG or DICOM file as a uint8 ``(H, W)`` gray array.

    Raises ``FileNotFoundError`` for a missing file and :class:`ImageDecodeError`, naming the file,
    for one that cannot be read (including a DICOM without pydicom installed, and an image whose
    header claims more than ``max_pixels``, default
    :data:`~cxr14_data.images.MAX_IMAGE_PIXELS`).

    Examples:
        >>> import tempfile, pathlib, numpy as np
        >>> from PIL import Image
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.jpg"
        >>> Image.fromarray(np.full((6, 8, 3), 200, dtype=np.uint8)).save(path)
        >>> image = read_image(path)
        >>> image.shape, image.dtype.name, int(image[0, 0])
        ((6, 8), 'uint8', 200)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if is_dicom(path):
        return read_dicom(path, max_pixels)
    return decode_gray(path, max_pixels)


def _header_int(dataset, keyword: str, path: Path) -> int:
    value = dataset.get(keyword, 1)
    try:
        return int(value if value not in (None, "") else 1)
    except (TypeError, ValueError):
        raise ImageDecodeError(f"{path}: DICOM {keyword} {value!r} is not a number.") from None


def read_dicom_header(path: str | os.PathLike):
    """A DICOM file's header (``pydicom.Dataset``, no pixel data read); a file pydicom cannot
    read is an :class:`ImageDecodeError` naming it.

    Examples:
        >>> import tempfile, pathlib
        >>> read_dicom_header(pathlib.Path(tempfile.mkdtemp()) / "no.dcm")
        Traceback (most recent call last):
        cxr14_data.images.ImageDecodeError: ...no.dcm: cannot read DICOM ...
    """
    path = Path(path)
    try:
        import pydicom
    except ImportError:
        raise ImageDecodeError(f"{path}: reading DICOM needs pydicom: {INSTALL_DICOM}.") from None
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as error:  # pydicom raises many kinds for a damaged file
        raise ImageDecodeError(f"{path}: cannot read DICOM ({error}).") from None


def read_dicom(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """A single-frame gray DICOM as uint8: modality and VOI LUTs applied, MONOCHROME1 inverted."""
    path = Path(path)
    header = read_dicom_header(path)
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        sizes = [_header_int(header, k, path) for k in ("Rows", "Columns")]
        frames = _header_int(header, "NumberOfFrames", path)
        samples = _header_int(header, "SamplesPerPixel", path)
        check_pixel_count(path, max(sizes[0], 0) * max(sizes[1], 0) * frames * samples, max_pixels)
        photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2"))
        if frames > 1:
            raise ImageDecodeError(
                f"{path}: a multi-frame DICOM ({frames} frames); save the frame to read as a "
                "single-frame file."
            )
        if samples != 1 or not photometric.startswith("MONOCHROME"):
            raise ImageDecodeError(
                f"{path}: a colour DICOM ({photometric}, {samples} samples per pixel); chest "
                "X-rays are MONOCHROME1 or MONOCHROME2."
            )
        dataset = pydicom.dcmread(path)
        pixels = apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset)
    except ImageDecodeError:
        raise
    except Exception as error:  # pydicom raises many kinds for a damaged file
        raise ImageDecodeError(f"{path}: cannot read DICOM ({error}).") from error
    pixels = np.asarray(pixels, dtype=np.float32)  # float32 at most (the LUTs give float64)
    if pixels.ndim != 2 or not np.isfinite(pixels).all():
        raise ImageDecodeError(f"{path}: DICOM pixels of shape {pixels.shape} are not one image.")
    if photometric == "MONOCHROME1":
        pixels = pixels.max() - pixels
    low, high = pixels.min(), pixels.max()
    scaled = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
    return np.rint(scaled * 255).astype(np.uint8)
