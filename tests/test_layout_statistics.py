"""The statistics the synthetic layouts draw from are the real files' (torchxrayvision's wheel):
``layout_statistics.json`` equals what ``layout_statistics_source.py`` tabulates today; and the
synthetic sets' boxes and masks read through ``cam_boxes_iobb``'s readers of each set."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from cam_boxes_iobb.formats import read_annotations
from cxr14_data.layouts import make_synthetic_layout, read_rsna, read_siim, read_vindr_kaggle

sys.path.insert(0, str(Path(__file__).parent))
from layout_statistics_source import SHIPPED, as_text, tabulate_layouts, xrv_data

pytest.importorskip("pydicom")


@pytest.mark.slow
def test_the_shipped_statistics_are_the_real_files(tmp_path):
    packed = xrv_data()
    if packed is None:
        if os.environ.get("CXR14_REQUIRE_REAL_METADATA"):
            pytest.fail("torchxrayvision (the real metadata fixture) is not installed")
        pytest.skip("torchxrayvision not installed: pip install --no-deps torchxrayvision")
    assert as_text(tabulate_layouts(packed, tmp_path)) == SHIPPED.read_text()


def test_the_shipped_statistics_hold_the_published_counts():
    statistics = json.loads(SHIPPED.read_text())
    assert statistics["chexpert"]["images"] == 223_414  # Irvin et al. 2019: 224,316 with valid
    assert statistics["rsna"]["images"] == 26_684 and statistics["vindr"]["images"] == 15_000
    assert statistics["siim"]["images"] == 12_047 and len(statistics["rsna"]["boxes"]) == 400


@pytest.mark.parametrize("layout", ["rsna", "siim", "vindr"])
def test_synthetic_annotations_read_through_cam_boxes_iobb(tmp_path, layout):
    root = make_synthetic_layout(tmp_path, layout, 40, 64, seed=5, progress=False)
    if layout == "vindr":
        annotations = read_annotations(root / "train.csv", "vindr", dicom_dir=root / "train")
        table = read_vindr_kaggle(root, "any")
        marked = {
            (i, c)
            for i, row in zip(table.image_ids, table.labels, strict=True)
            for c, v in zip(table.classes, row, strict=True)
            if v and c != "No finding"
        }
        boxed = {(image.name, c) for image in annotations.images for c in image.boxes}
        assert boxed == marked  # every reader's finding has its box
        return
    annotations = read_annotations(root, layout, frame=(64, 64))
    table = (read_rsna if layout == "rsna" else read_siim)(root)
    positive = {i for i, v in zip(table.image_ids, table.labels[:, 0], strict=True) if v}
    annotated = {image.name for image in annotations.images if image.boxes or image.masks}
    assert annotated == positive
    if layout == "siim":
        areas = [image.mask("Pneumothorax").sum() for image in annotations.images if image.masks]
        assert all(0 < a < 64 * 64 for a in areas) and np.mean(areas) > 4
