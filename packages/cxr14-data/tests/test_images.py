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


class TestHostileAndUnusualImages:
    def test_a_tiny_png_claiming_20000_squared_pixels_is_refused_unread(self, tmp_path, bomb_png):
        path = tmp_path / "bomb.png"
        path.write_bytes(bomb_png())
        assert path.stat().st_size < 100
        # above Pillow's own limit (2 x 89 Mpx) Pillow refuses it first, by its own words
        with pytest.raises(ImageDecodeError, match=r"bomb\.png: .*\(400000000 pixels\)"):
            decode_gray(path)
        smaller = tmp_path / "smaller.png"
        smaller.write_bytes(bomb_png(10000, 10000))
        with pytest.raises(ImageDecodeError, match=r"smaller\.png: its header claims 100,000,000"):
            decode_gray(smaller)

    def test_the_limit_is_configurable(self, tmp_path, monkeypatch):
        path = tmp_path / "x.png"
        Image.fromarray(np.zeros((40, 50), dtype=np.uint8)).save(path)
        with pytest.raises(ImageDecodeError, match="above the limit of 1,999"):
            decode_gray(path, max_pixels=1999)
        assert decode_gray(path, max_pixels=2000).shape == (40, 50)
        monkeypatch.setattr("cxr14_data.images.MAX_IMAGE_PIXELS", 100)
        with pytest.raises(ImageDecodeError, match="above the limit of 100"):
            decode_gray(path)

    def test_pillows_own_bomb_error_is_an_unreadable_image(self, tmp_path, monkeypatch):
        path = tmp_path / "x.png"
        Image.fromarray(np.zeros((40, 50), dtype=np.uint8)).save(path)
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses above 2x this
        with pytest.raises(ImageDecodeError, match=r"x\.png: .*decompression bomb"):
            decode_gray(path, max_pixels=10**9)

    def test_a_12_bit_png_in_16_bits_uses_its_12_bits(self, tmp_path):
        """A 12-bit detector's values 0 ... 4095 stored in a 16-bit PNG: 4095 is white, and the
        rest scale by 255 / 4095 (not by 255 / 65535, which made it nearly black)."""
        values = np.random.default_rng(1).integers(0, 4096, (30, 20), dtype=np.uint16)
        values[0, 0] = 4095
        path = tmp_path / "twelve.png"
        Image.fromarray(values).save(path)
        expected = np.rint(values.astype(np.float64) * 255 / 4095).astype(np.uint8)
        np.testing.assert_array_equal(decode_gray(path), expected)

    def test_the_png_sbit_chunk_decides_the_bit_depth(self, tmp_path, png_chunk):
        """sBIT says 16 significant bits: a dark image (max 1000) is not stretched."""
        values = np.full((6, 7), 1000, dtype=np.uint16)
        plain = tmp_path / "plain.png"
        Image.fromarray(values).save(plain)
        data = plain.read_bytes()
        ihdr_end = 8 + 8 + 13 + 4
        marked = tmp_path / "marked.png"
        marked.write_bytes(data[:ihdr_end] + png_chunk(b"sBIT", bytes([16])) + data[ihdr_end:])
        assert int(decode_gray(marked)[0, 0]) == round(1000 * 255 / 65535)
        assert int(decode_gray(plain)[0, 0]) == round(1000 * 255 / 1023)  # 10 bits hold 1000

    def test_jpeg_exif_orientation_is_applied(self, tmp_path):
        """Orientation 6 (rotate 90 degrees clockwise to view): a 20 x 40 stored image is seen
        40 x 20, with the stored top-left corner at the top right."""
        stored = np.zeros((20, 40), dtype=np.uint8)
        stored[:6, :6] = 255
        exif = Image.Exif()
        exif[0x0112] = 6
        path = tmp_path / "rotated.jpg"
        Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=100)
        seen = decode_gray(path)
        assert seen.shape == (40, 20)
        assert seen[:6, -6:].mean() > 200 and seen[-6:, :6].mean() < 50


class TestSixteenBitMemory:
    def test_a_large_16_bit_png_is_decoded_without_floats(self, tmp_path):
        """An 8192² 16-bit PNG of 130 KB peaked at 2.5 GB (a float64 copy and its temporaries);
        Python's and numpy's allocations now stay near 4 bytes a pixel (Pillow's bytes, built
        twice over while joined), here at 2048²."""
        import tracemalloc

        side = 2048
        pixels = np.zeros((side, side), np.uint16)
        pixels[::7, ::5] = 4095
        Image.fromarray(pixels).save(tmp_path / "big.png")
        tracemalloc.start()
        decoded = decode_gray(tmp_path / "big.png")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 5 * side * side, f"{peak / side / side:.1f} bytes a pixel"
        expected = np.clip(np.rint(pixels / 4095.0 * 255.0), 0, 255).astype(np.uint8)
        assert np.array_equal(decoded, expected)  # the same values as the float conversion

    @pytest.mark.parametrize("dtype", ["<u2", ">u2", "<i4"], ids=["I;16", "I;16B", "I"])
    def test_every_16_bit_layout_decodes_alike(self, tmp_path, dtype):
        """Little- and big-endian 16-bit and 32-bit gray TIFFs (Pillow's I;16, I;16B, I)."""
        values = np.arange(0, 4096, 16).reshape(16, 16)
        Image.fromarray(values.astype(dtype)).save(tmp_path / "x.tif")
        with Image.open(tmp_path / "x.tif") as opened:
            assert opened.mode == {"<u2": "I;16", ">u2": "I;16B", "<i4": "I"}[dtype]
        expected = np.clip(np.rint(values / 4095.0 * 255.0), 0, 255).astype(np.uint8)
        assert np.array_equal(decode_gray(tmp_path / "x.tif"), expected)
