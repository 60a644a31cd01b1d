import shutil

import numpy as np
import pytest
from PIL import Image

from cxr14_data import ImageDecodeError, decode_gray, find_images


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("L", lambda a: Image.fromarray(a)),
        ("I;16", lambda a: Image.fromarray(a.astype(np.uint16) * 257)),
        ("RGBA", lambda a: Image.fromarray(a).convert("RGBA")),
        ("RGB", lambda a: Image.fromarray(a).convert("RGB")),
        ("LA", lambda a: Image.fromarray(a).convert("LA")),
    ],
)
def test_decode_modes(tmp_path, mode, make):
    gray = np.random.default_rng(0).integers(0, 256, size=(20, 30), dtype=np.uint8)
    path = tmp_path / "x.png"
    make(gray).save(path)
    decoded = decode_gray(path)
    assert decoded.dtype == np.uint8 and decoded.shape == (20, 30)
    np.testing.assert_array_equal(decoded, gray)


def test_corrupt_png_names_the_file(tmp_path):
    path = tmp_path / "00000001_000.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ImageDecodeError, match="00000001_000.png"):
        decode_gray(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        decode_gray("/nonexistent/x.png")


def test_both_layouts(synthetic_root, tmp_path):
    flat = find_images(synthetic_root)
    archive_root = tmp_path / "archives"
    names = sorted(flat)
    for i, name in enumerate(names):
        folder = archive_root / f"images_{i % 3 + 1:03d}" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(flat[name], folder / name)
    found = find_images(archive_root)
    assert sorted(found) == names
    assert found[names[1]].parent.parent.name == "images_002"


def test_no_images(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"images/\*.png"):
        find_images(tmp_path)
