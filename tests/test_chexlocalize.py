"""CheXlocalize as this project writes and reads it: the synthetic segmentations are pycocotools'
compressed RLE (the encoder held to ``pycocotools.mask.encode`` on random masks) that
cam-boxes-iobb's CheXlocalize reader decodes to the painted masks; and the protocol's thresholds
are what rajpurkarlab/cheXlocalize's ``tune_heatmap_threshold.py`` (at 2a79492) chooses,
restated here as a loop over its grid."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask

from cam_boxes_iobb.formats import read_annotations
from cam_boxes_iobb.mask_metrics import chexlocalize_segmentation, mask_iou, resize_bilinear
from cxr14_data.layouts import (
    CHEXLOCALIZE_CLASSES,
    encode_rle,
    make_synthetic_layout,
    read_chexlocalize,
)
from cxr_paper.scoring.chexlocalize_protocol import TUNING_THRESHOLDS, tuned_thresholds


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    share=st.floats(0, 1),
    seed=st.integers(0, 99),
)
def test_the_rle_is_pycocotools_compressed_rle(height, width, share, seed):
    mask = (np.random.default_rng(seed).random((height, width)) < share).astype(np.uint8)
    expected = coco_mask.encode(np.asfortranarray(mask))
    assert encode_rle(mask) == {"size": [height, width], "counts": expected["counts"].decode()}


def test_synthetic_chexlocalize_reads_back_with_its_painted_masks(tmp_path):
    pytest.importorskip("PIL")
    root = make_synthetic_layout(tmp_path, "chexlocalize", 30, 48, seed=4, progress=False)
    table = read_chexlocalize(root)
    assert set(table.splits) == {"val", "test"} and table.classes == CHEXLOCALIZE_CLASSES
    for split in ("val", "test"):
        annotations = read_annotations(
            root / "CheXlocalize" / f"gt_segmentations_{split}.json", "chexlocalize"
        )
        listed = zip(table.image_ids, table.labels, table.splits, strict=True)
        rows = {i: r for i, r, s in listed if s == split}
        assert {image.name for image in annotations.images} == {
            i for i, r in rows.items() if r.any()
        }  # positive CXRs only, as CheXlocalize's files
        for image in annotations.images:
            for k, name in enumerate(CHEXLOCALIZE_CLASSES):
                assert bool(image.mask(name).any()) == bool(rows[image.name][k])


def _tune_as_chexlocalize(maps, masks, task):
    """tune_heatmap_threshold.py: for each threshold of np.arange(0.2, .8, .1), the nanmean
    over CXRs of calculate_iou(true_pos_only=True); the first of the best."""
    thresholds = np.arange(0.2, 0.8, 0.1)
    mious = []
    for threshold in thresholds:
        ious = []
        for name, saliency in maps.items():
            gt = masks[name][task]
            pred = chexlocalize_segmentation(
                resize_bilinear(saliency, gt.shape), round(threshold, 1)
            )
            ious.append(mask_iou(pred, gt, true_positives_only=True))
        mious.append(np.nanmean(ious) if not all(math.isnan(v) for v in ious) else -np.inf)
    return round(float(thresholds[mious.index(max(mious))]), 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tuned_thresholds_are_cheXlocalizes(seed):
    rng = np.random.default_rng(seed)
    classes = ["Edema", "Pneumothorax"]
    ids = [f"patient{p}_study1_view1_frontal" for p in range(12)]
    masks, maps = {}, {"ids": ids, "maps": []}
    for name in ids:
        masks[name] = {}
        saliency = rng.random((2, 8, 8)) * rng.uniform(0.2, 1.5)  # noise of varied strength
        for k, task in enumerate(classes):
            gt = np.zeros((32, 32), np.uint8)
            y, x = rng.integers(0, 24, 2)
            gt[y : y + 8, x : x + 8] = 1
            masks[name][task] = gt
            saliency[k, y // 4 : (y + 8) // 4, x // 4 : (x + 8) // 4] += 1  # and the finding
        maps["maps"].append(saliency)
    found = tuned_thresholds(maps, masks, classes)
    for k, task in enumerate(classes):
        per_image = {n: m[k] for n, m in zip(ids, maps["maps"], strict=True)}
        assert found[task] == _tune_as_chexlocalize(per_image, masks, task)
    assert [round(t, 1) for t in TUNING_THRESHOLDS] == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


def test_the_segmentation_files_are_json_objects_of_ten_pathologies(tmp_path):
    root = make_synthetic_layout(tmp_path, "chexlocalize", 12, 32, seed=1, progress=False)
    data = json.loads((root / "CheXlocalize" / "gt_segmentations_val.json").read_text())
    assert data and all(set(entry) == set(CHEXLOCALIZE_CLASSES) for entry in data.values())
    assert all(isinstance(e["counts"], str) for entry in data.values() for e in entry.values())
