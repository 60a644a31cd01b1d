import gzip
import importlib.util
import os
from pathlib import Path

import pytest

from cxr14_data import make_synthetic


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
