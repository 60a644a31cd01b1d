"""Synthetic sets in the other published layouts: each read back by its own reader and loaded
image by image, written deterministically, holding the real sets' conventions (CheXpert's
radiologist ``valid.csv`` of 0/1 only, VinDr's three readers, RSNA's one row per box, SIIM's
relative column-major runs and ``-1``), and drawing the real statistics shipped in
``layout_statistics.json`` (shares checked within four binomial standard deviations)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from cxr14_data.layouts import (
    CHEXPERT_CLASSES,
    LAYOUTS,
    LayoutDataset,
    make_synthetic_layout,
    read_chexlocalize,
    read_chexpert,
    read_mimic,
    read_rsna,
    read_siim,
    read_vindr_kaggle,
)
from cxr14_data.layouts.synthetic_plan import MIN_SHARE, drawn_as, layout_statistics

pytest.importorskip("pydicom")
READERS = {
    "chexpert": lambda root: read_chexpert(root / "CheXpert-v1.0-small"),
    "mimic": read_mimic,
    "vindr": read_vindr_kaggle,
    "rsna": read_rsna,
    "siim": read_siim,
    "chexlocalize": read_chexlocalize,
}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    return {
        layout: make_synthetic_layout(
            tmp_path_factory.mktemp(layout), layout, 30, 48, seed=3, progress=False
        )
        for layout in LAYOUTS
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_reader_reads_it_and_every_image_loads(sets, layout):
    root = sets[layout]
    table = READERS[layout](root)
    values = table.labels[~np.isnan(table.labels)]
    assert len(table) >= 30 and set(np.unique(values)) <= {-1.0, 0.0, 1.0}
    dataset = LayoutDataset(table, root)  # CheXpert's paths start at its folder's parent
    shapes = {tuple(dataset[i]["image"].shape) for i in range(len(dataset))}
    assert shapes == {(3, 48, 48)}  # no transform: the stored gray image, three channels


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_same_seed_writes_the_same_files(sets, layout, tmp_path):
    again = make_synthetic_layout(tmp_path, layout, 30, 48, seed=3, progress=False)
    files = sorted(p.relative_to(again) for p in (*again.rglob("*.csv"), *again.rglob("*.json")))
    assert files and all((again / f).read_bytes() == (sets[layout] / f).read_bytes() for f in files)


def test_chexpert_valid_is_radiologists_zero_or_one_and_train_keeps_uncertainty(sets):
    folder = sets["chexpert"] / "CheXpert-v1.0-small"
    valid, train = _rows(folder / "valid.csv"), _rows(folder / "train.csv")
    assert {row[c] for row in valid for c in CHEXPERT_CLASSES} <= {"0.0", "1.0"}
    assert {"-1.0", ""} <= {row[c] for row in train for c in CHEXPERT_CLASSES}
    assert {row["Frontal/Lateral"] for row in train + valid} == {"Frontal", "Lateral"}
    for row in train:  # No Finding: 1 exactly where nothing else is 1 or -1 (devices aside)
        findings = [c for c in CHEXPERT_CLASSES[1:-1] if row[c] in ("1.0", "-1.0")]
        assert (row["No Finding"] == "1.0") == (not findings)


def test_vindr_has_three_readers_per_image_and_boxes_on_findings(sets):
    rows = _rows(sets["vindr"] / "train.csv")
    readers: dict[str, set[str]] = {}
    for row in rows:
        readers.setdefault(row["image_id"], set()).add(row["rad_id"])
        if row["class_name"] == "No finding":
            assert row["x_min"] == "" and row["class_id"] == "14"
        else:
            x0, y0, x1, y1 = (float(row[c]) for c in ("x_min", "y_min", "x_max", "y_max"))
            assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
    assert {len(r) for r in readers.values()} == {3}


def test_rsna_writes_a_row_per_box_and_one_row_per_negative(sets):
    rows = _rows(sets["rsna"] / "stage_2_train_labels.csv")
    by_image: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_image.setdefault(row["patientId"], []).append(row)
    for image_rows in by_image.values():
        targets = {r["Target"] for r in image_rows}
        assert len(targets) == 1
        if targets == {"0"}:
            assert len(image_rows) == 1 and image_rows[0]["x"] == ""
        else:
            assert all(float(r["width"]) > 0 for r in image_rows)


def _decode_relative(runs: str, side: int) -> np.ndarray:
    """The competition's rle2mask (relative starts added up, column-major), restated."""
    flat = np.zeros(side * side, dtype=bool)
    numbers = [int(v) for v in runs.split()]
    position = 0
    for start, length in zip(numbers[0::2], numbers[1::2], strict=True):
        position += start
        flat[position : position + length] = True
        position += length
    return flat.reshape(side, side).T


def test_siim_runs_are_relative_column_major_components_inside_the_frame(sets):
    rows = _rows(sets["siim"] / "train-rle.csv")
    positives = [r for r in rows if r["EncodedPixels"] != "-1"]
    assert positives and any(r["EncodedPixels"] == "-1" for r in rows)
    for row in positives:
        mask = _decode_relative(row["EncodedPixels"], 48)
        assert mask.any() and mask.sum() == sum(int(v) for v in row["EncodedPixels"].split()[1::2])


def _within(observed: int, n: int, share: float) -> bool:
    return abs(observed - n * share) <= 4 * math.sqrt(n * share * (1 - share)) + 1


def test_rsna_and_siim_follow_their_real_shares(tmp_path):
    for layout in ("rsna", "siim"):
        root = make_synthetic_layout(tmp_path / layout, layout, 400, 32, seed=1, progress=False)
        table = READERS[layout](root)
        statistics = layout_statistics()[layout]
        share = max(statistics["positives"] / statistics["images"], MIN_SHARE)
        assert _within(int(table.labels.sum()), len(table), share), layout


def test_chexpert_follows_its_real_views_and_label_shares(tmp_path):
    root = make_synthetic_layout(tmp_path, "chexpert", 150, 32, seed=2, progress=False)
    table = read_chexpert(root / "CheXpert-v1.0-small")
    statistics = layout_statistics()["chexpert"]
    train = table.select([s == "train" for s in table.splits])
    lateral = statistics["views"]["LATERAL"] / statistics["images"]
    assert _within(train.views.count("LATERAL"), len(train), lateral)
    for name in ("Lung Opacity", "Support Devices", "Edema"):
        counts = statistics["labels"][name]
        k = CHEXPERT_CLASSES.index(name)
        for state, value in (("-1", -1.0), ("0", 0.0)):
            share = counts[state] / sum(counts.values())
            assert _within(int((train.labels[:, k] == value).sum()), len(train), share), name


def test_a_class_without_an_nih_counterpart_is_a_label_only():
    drawn = drawn_as("vindr")
    assert drawn["Nodule/Mass"] == ("Nodule", "Mass") and "Aortic enlargement" not in drawn


def test_an_unknown_layout_or_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        make_synthetic_layout(tmp_path, "padchest", progress=False)
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic_layout(tmp_path, "rsna", image_size=16, progress=False)


def test_a_real_sets_folders_are_refused_not_deleted(tmp_path):
    real = tmp_path / "vindr"
    (real / "train").mkdir(parents=True)
    (real / "train" / "keep.dicom").write_text("a user's image")
    with pytest.raises(ValueError, match=r"holds \['train'\], not written by this generator"):
        make_synthetic_layout(real, "rsna", 4, 32, progress=False)
    assert (real / "train" / "keep.dicom").read_text() == "a user's image"


def test_a_symbolic_link_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "x.jpg").write_text("kept")
    root = make_synthetic_layout(tmp_path / "set", "chexpert", 4, 32, progress=False)
    (root / "files").symlink_to(target)  # a link where a set folder would be
    with pytest.raises(ValueError, match="symbolic link"):
        make_synthetic_layout(root, "chexpert", 4, 32, progress=False)
    assert (target / "x.jpg").read_text() == "kept"


def test_a_set_this_generator_wrote_is_replaced(tmp_path):
    make_synthetic_layout(tmp_path, "chexpert", 6, 32, progress=False)
    make_synthetic_layout(tmp_path, "mimic", 4, 32, progress=False)
    assert not (tmp_path / "CheXpert-v1.0-small").exists() and (tmp_path / "files").is_dir()
