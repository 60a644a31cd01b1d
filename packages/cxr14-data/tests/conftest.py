import gzip
import importlib.util
import os
import struct
import sys
import zlib
from pathlib import Path

import pytest

from cxr14_data import make_synthetic

if str(Path(__file__).parent) not in sys.path:  # the tests' helper modules (dicom_writer)
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic set, shared read-only by the tests (copy it before changing it)."""
    return make_synthetic(
        tmp_path_factory.mktemp("synthetic"), n_patients=24, image_size=64, seed=3, progress=False
    )


@pytest.fixture(scope="session")
def real_metadata() -> Path:
    """The real NIH metadata CSVs shipped in torchxrayvision's wheel (read, never imported)."""
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CXR14_REQUIRE_REAL_METADATA"):
            pytest.fail("torchxrayvision (the real NIH metadata fixture) is not installed")
        pytest.skip("torchxrayvision not installed: pip install --no-deps torchxrayvision")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    assert (folder / "Data_Entry_2017_v2020.csv.gz").is_file()
    return folder


def read_first_line(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return handle.readline().rstrip("\r\n")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(width: int = 20000, height: int = 20000, bit_depth: int = 8) -> bytes:
    """A tiny PNG whose header claims ``width x height`` gray pixels (no pixel data to match)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b""))
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture
def png_chunk():
    """``png_chunk(kind, data)``: one PNG chunk with its length and CRC."""
    return _png_chunk


@pytest.fixture
def bomb_png():
    """``bomb_png(width, height)``: the bytes of a tiny PNG claiming that many pixels."""
    return _bomb_png
