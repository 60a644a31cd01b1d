"""SIIM-ACR's real ``train-rle.csv`` (torchxrayvision's wheel): cam-boxes-iobb's reader decodes
every image's mask as the competition's own decoder does, restated here from its
``mask_functions.rle2mask`` (relative starts added up from 0, 255 on each run, the flat array
reshaped to ``(width, height)`` and transposed); cxr14-data's table counts the same images."""

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from cam_boxes_iobb.formats.siim import read_siim
from cxr14_data.layouts import read_siim as read_siim_table


def _competition_rle2mask(rle: str, width: int, height: int) -> np.ndarray:
    mask = np.zeros(width * height)
    array = np.asarray([int(x) for x in rle.split()])
    starts, lengths = array[0::2], array[1::2]
    current = 0
    for index, start in enumerate(starts):
        current += start
        mask[current : current + lengths[index]] = 255
        current += lengths[index]
    return mask.reshape(width, height)


@pytest.fixture(scope="module")
def real_siim(tmp_path_factory) -> Path:
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CXR14_REQUIRE_REAL_METADATA"):
            pytest.fail("torchxrayvision (the real metadata fixture) is not installed")
        pytest.skip("torchxrayvision not installed: pip install --no-deps torchxrayvision")
    packed = Path(next(iter(spec.submodule_search_locations))) / "data"
    target = tmp_path_factory.mktemp("siim") / "train-rle.csv"
    target.write_bytes(
        gzip.decompress((packed / "siim-pneumothorax-train-rle.csv.gz").read_bytes())
    )
    return target


def test_every_mask_of_the_real_file_is_the_competitions_decoding(real_siim):
    rows = [line.split(",", 1) for line in real_siim.read_text().splitlines()[1:]]
    expected: dict[str, np.ndarray | None] = {}
    for image, runs in rows:
        image = image.strip()
        if runs.strip() == "-1":
            expected.setdefault(image, None)
            continue
        mask = _competition_rle2mask(runs, 1024, 1024).T > 0
        previous = expected.get(image)
        expected[image] = mask if previous is None else previous | mask
    annotations = read_siim(real_siim)
    assert len(annotations) == len(expected) == len(read_siim_table(real_siim))
    positives = 0
    for name, mask in expected.items():
        got = annotations[name].mask("Pneumothorax")
        if mask is None:
            assert "Pneumothorax" not in annotations[name].masks, name
        else:
            positives += 1
            assert np.array_equal(got > 0, mask), name
    assert positives == int(read_siim_table(real_siim).labels.sum()) > 2000
