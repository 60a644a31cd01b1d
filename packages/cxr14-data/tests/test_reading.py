"""read_image: PNG, JPEG and DICOM to one uint8 gray array, each DICOM rule against a hand-worked
case, and arbitrary bytes giving an image or a named error."""

import contextlib
import os
import sys

import numpy as np
import pytest
from dicom_writer import write_dicom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cxr14_data import ImageDecodeError, decode_gray, is_dicom, read_image

if os.environ.get("CXR_REQUIRE_TEST_DEPENDENCIES"):  # the [test] extra installs it
    import pydicom
else:
    pydicom = pytest.importorskip("pydicom")


RAMP = np.arange(64, dtype=np.uint16).reshape(8, 8) * 60  # 0 ... 3780, 12 bits


def scaled(values):
    values = np.asarray(values, dtype=np.float64)
    return np.rint((values - values.min()) / (values.max() - values.min()) * 255).astype(np.uint8)


class TestDicom:
    def test_monochrome2_is_the_min_max_scaled_pixels(self, tmp_path):
        image = read_image(write_dicom(tmp_path / "a.dcm", RAMP))
        np.testing.assert_array_equal(image, scaled(RAMP))

    def test_monochrome1_is_inverted(self, tmp_path):
        m1 = read_image(write_dicom(tmp_path / "m1.dcm", RAMP, "MONOCHROME1"))
        m2 = read_image(write_dicom(tmp_path / "m2.dcm", RAMP, "MONOCHROME2"))
        np.testing.assert_array_equal(m1.astype(int), 255 - m2.astype(int))

    def test_the_window_of_the_file_is_applied(self, tmp_path):
        """A window of centre 1000, width 400 (DICOM PS3.3 C.11.2.1.2, linear): everything
        below 800 is black, above 1200 white, and between a ramp."""
        path = write_dicom(tmp_path / "w.dcm", RAMP, WindowCenter=1000, WindowWidth=400)
        image = read_image(path).astype(int)
        assert (image[RAMP <= 790] == 0).all() and (image[RAMP >= 1210] == 255).all()
        inside = (RAMP > 800) & (RAMP < 1200)
        assert inside.any() and np.all(np.diff(image[inside]) > 0)

    def test_the_modality_lut_is_applied_before_the_window(self, tmp_path):
        """Slope 2, intercept -1000: a window at 1000 in output units is at 1000 stored."""
        plain = write_dicom(tmp_path / "p.dcm", RAMP, WindowCenter=1000, WindowWidth=400)
        rescaled = write_dicom(
            tmp_path / "r.dcm",
            RAMP,
            WindowCenter=1000,
            WindowWidth=800,
            RescaleSlope=2,
            RescaleIntercept=-1000,
        )
        # the stored values 800 ... 1200 map to 600 ... 1400 = centre 1000 +- 400 (to one grey
        # level: the standard's window has a -1 in its width)
        a, b = read_image(rescaled).astype(int), read_image(plain).astype(int)
        assert np.abs(a - b).max() <= 1 and (a == 0).sum() == (b == 0).sum()

    def test_multi_frame_and_colour_are_refused_by_name(self, tmp_path):
        frames = write_dicom(tmp_path / "f.dcm", np.stack([RAMP, RAMP]), frames=2)
        with pytest.raises(ImageDecodeError, match=r"f\.dcm: a multi-frame DICOM \(2 frames\)"):
            read_image(frames)
        colour = write_dicom(
            tmp_path / "c.dcm", np.stack([RAMP] * 3, axis=-1), photometric="RGB", samples=3
        )
        with pytest.raises(ImageDecodeError, match=r"c\.dcm: a colour DICOM \(RGB"):
            read_image(colour)

    def test_found_by_its_marker_without_the_suffix(self, tmp_path):
        path = write_dicom(tmp_path / "scan.bin", RAMP)
        assert is_dicom(path)
        np.testing.assert_array_equal(read_image(path), scaled(RAMP))

    def test_without_pydicom_the_error_says_what_to_install(self, tmp_path, monkeypatch):
        path = write_dicom(tmp_path / "a.dcm", RAMP)
        monkeypatch.setitem(sys.modules, "pydicom", None)
        with pytest.raises(ImageDecodeError, match=r"a\.dcm: reading DICOM needs pydicom.*dicom\]"):
            read_image(path)


class TestOtherFormats:
    @pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
    def test_equals_decode_gray(self, tmp_path, suffix):
        pixels = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
        path = tmp_path / f"x{suffix}"
        Image.fromarray(pixels).save(path)
        np.testing.assert_array_equal(read_image(path), decode_gray(path))

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="missing.png"):
            read_image(tmp_path / "missing.png")


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    head=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\0" * 128 + b"DICM"]),
    body=st.binary(max_size=400),
    suffix=st.sampled_from([".png", ".dcm", ".jpg", ""]),
)
def test_arbitrary_bytes_give_an_image_or_a_named_error(tmp_path_factory, head, body, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"file{suffix}"
    path.write_bytes(head + body)
    with contextlib.suppress(ImageDecodeError):
        image = read_image(path)
        assert image.dtype == np.uint8 and image.ndim == 2


class TestDicomPixelLimit:
    def test_a_small_file_claiming_65535_squared_is_refused_before_pixels_are_read(self, tmp_path):
        import tracemalloc

        path = write_dicom(tmp_path / "huge.dcm", RAMP)
        from pydicom import dcmread

        dataset = dcmread(path)
        dataset.Rows = dataset.Columns = 65535
        dataset.save_as(path)
        assert path.stat().st_size < 2000
        tracemalloc.start()
        with pytest.raises(ImageDecodeError, match=r"huge\.dcm: its header claims 4,294,836,225"):
            read_image(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 20 * 2**20

    def test_frames_count_toward_the_limit(self, tmp_path):
        path = write_dicom(tmp_path / "f.dcm", np.stack([RAMP] * 3), frames=3)
        with pytest.raises(ImageDecodeError, match="claims 192 pixels, above the limit of 100"):
            read_image(path, max_pixels=100)


def _valid_image(kind: str, folder) -> bytes:
    rng = np.random.default_rng(0)
    path = folder / f"valid.{kind}"
    if kind == "dcm":
        write_dicom(path, RAMP)
    elif kind == "png16":
        path = folder / "valid16.png"
        Image.fromarray(rng.integers(0, 4096, (16, 12), dtype=np.uint16)).save(path)
    else:
        Image.fromarray(rng.integers(0, 256, (16, 12), dtype=np.uint8)).save(path)
    return path.read_bytes()


@FUZZ
@given(
    kind=st.sampled_from(["png", "png16", "jpg", "dcm"]),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
    keep=st.floats(0, 1),
)
def test_mutated_valid_images_give_an_image_or_a_named_error(tmp_path_factory, kind, flips, keep):
    folder = tmp_path_factory.mktemp("mutated")
    raw = bytearray(_valid_image(kind, folder))
    for where, value in flips:
        raw[min(int(where * len(raw)), len(raw) - 1)] = value
    raw = raw[: max(1, int(keep * len(raw)))] if keep < 0.9 else raw
    path = folder / f"file.{'png' if kind == 'png16' else kind}"
    path.write_bytes(bytes(raw))
    refused, image = None, None
    try:
        image = read_image(path)
    except ImageDecodeError as error:
        refused = str(error)
    if refused is not None:
        assert str(path) in refused
    else:
        assert image.dtype == np.uint8 and image.ndim == 2
