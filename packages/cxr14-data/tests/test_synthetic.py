import filecmp
from collections import Counter

import numpy as np
import pytest

from cxr14_data import (
    BOX_CLASSES,
    CLASSES,
    DIFFICULTIES,
    SYNTHETIC_PREVALENCE,
    decode_gray,
    find_images,
    make_synthetic,
    read_bbox_list,
    read_data_entry,
    read_split_list,
)
from cxr14_data._findings import EXTENT_LEVEL, FINDINGS, sample_box
from cxr14_data._phantom import grid, sample_anatomy
from cxr14_data.nih_statistics import nih_boxes, nih_label_sets
from cxr14_data.synthetic import MULTI_FINDING_SHARE, render_image


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(np.sort(a), points, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def box_features(xywh: np.ndarray) -> dict[str, np.ndarray]:
    """sqrt(w*h) and the centre's x and y, as tabulated for NIH's boxes."""
    x, y, w, h = xywh.T
    return {"size": np.sqrt(w * h), "centre x": x + w / 2, "centre y": y + h / 2}


@pytest.fixture(scope="module")
def box_set(tmp_path_factory):
    """Every patient in the test split, so that every box finding is written to the CSV."""
    return make_synthetic(
        tmp_path_factory.mktemp("boxes"),
        n_patients=2500,
        image_size=32,
        seed=11,
        test_fraction=1.0,
        progress=False,
    )


class TestSyntheticLayout:
    def test_nih_files(self, synthetic_root):
        names = {p.name for p in synthetic_root.iterdir()}
        assert {
            "Data_Entry_2017.csv",
            "BBox_List_2017.csv",
            "train_val_list.txt",
            "test_list.txt",
            "images",
        } <= names
        records = read_data_entry(synthetic_root)
        images = find_images(synthetic_root)
        assert sorted(images) == sorted(r.image_index for r in records)
        test = read_split_list(synthetic_root / "test_list.txt")
        train_val = read_split_list(synthetic_root / "train_val_list.txt")
        assert sorted(test + train_val) == sorted(images)
        patients = {r.image_index: r.patient_id for r in records}
        assert not {patients[n] for n in test} & {patients[n] for n in train_val}

    def test_follow_ups(self, synthetic_root):
        visits = Counter(r.patient_id for r in read_data_entry(synthetic_root))
        assert max(visits.values()) > 1

    def test_some_rgba_pngs(self, tmp_path):
        from PIL import Image

        root = make_synthetic(tmp_path, n_patients=120, image_size=32, seed=1, progress=False)
        modes = Counter(Image.open(p).mode for p in find_images(root).values())
        assert modes["RGBA"] > 0 and modes["L"] > modes["RGBA"]

    def test_boxes_inside_image_right_classes_test_only(self, synthetic_root):
        boxes = read_bbox_list(synthetic_root)
        test = set(read_split_list(synthetic_root / "test_list.txt"))
        labels = {r.image_index: r.labels for r in read_data_entry(synthetic_root)}
        assert boxes
        for box in boxes:
            assert box.image_index in test
            assert box.label in BOX_CLASSES and box.label in labels[box.image_index]
            # NIH's convention: the 1024 frame whatever the PNG size (64 px here)
            assert box.x >= 0 and box.y >= 0 and box.x + box.w <= 1024 and box.y + box.h <= 1024
        assert max(b.x + b.w for b in boxes) > 64

    def test_original_image_columns_are_neither_png_nor_frame(self, synthetic_root):
        sizes = {(r.original_width, r.original_height) for r in read_data_entry(synthetic_root)}
        assert all(2000 <= w <= 3056 and 2000 <= h <= 3056 for w, h in sizes)

    @pytest.mark.parametrize("patients", [2, 3, 5, 10])
    def test_small_sets_have_both_splits(self, tmp_path, patients):
        root = make_synthetic(tmp_path, n_patients=patients, image_size=32, seed=0, progress=False)
        assert read_split_list(root / "test_list.txt")
        assert read_split_list(root / "train_val_list.txt")

    def test_archive_layout(self, tmp_path):
        root = make_synthetic(
            tmp_path, n_patients=6, image_size=32, layout="archives", progress=False
        )
        assert any(p.parent.parent.name.startswith("images_0") for p in find_images(root).values())

    def test_bad_arguments(self, tmp_path):
        with pytest.raises(ValueError, match="layout"):
            make_synthetic(tmp_path, layout="zip")
        with pytest.raises(ValueError, match="image_size"):
            make_synthetic(tmp_path, image_size=16)


class TestSyntheticContent:
    def test_deterministic(self, tmp_path):
        a = make_synthetic(tmp_path / "a", n_patients=5, image_size=48, seed=7, progress=False)
        b = make_synthetic(tmp_path / "b", n_patients=5, image_size=48, seed=7, progress=False)
        c = make_synthetic(tmp_path / "c", n_patients=5, image_size=48, seed=8, progress=False)
        for name in ("Data_Entry_2017.csv", "BBox_List_2017.csv", "test_list.txt"):
            assert filecmp.cmp(a / name, b / name, shallow=False)
        image = sorted(find_images(a))[0]
        np.testing.assert_array_equal(
            decode_gray(a / "images" / image), decode_gray(b / "images" / image)
        )
        assert not filecmp.cmp(a / "Data_Entry_2017.csv", c / "Data_Entry_2017.csv", shallow=False)

    def test_label_structure_as_documented(self, box_set):
        records = read_data_entry(box_set)
        n = len(records)
        counts = Counter(label for r in records for label in r.labels)
        for name, p in SYNTHETIC_PREVALENCE.items():
            assert abs(counts[name] - p * n) < 4 * np.sqrt(n * p * (1 - p)), name
        several = sum(len(r.labels) > 1 for r in records)
        p = MULTI_FINDING_SHARE
        assert abs(several - p * n) < 4 * np.sqrt(n * p * (1 - p))
        nih_sets = {labels for labels, _ in nih_label_sets()}
        assert {r.labels for r in records} <= nih_sets  # only combinations NIH has

    @pytest.mark.parametrize("feature", ["size", "centre x", "centre y"])
    @pytest.mark.parametrize("name", BOX_CLASSES)
    def test_boxes_follow_nih_per_class(self, box_set, name, feature):
        generated = np.array([b.xywh for b in read_bbox_list(box_set) if b.label == name])
        assert len(generated) >= 100, f"too few {name} boxes to compare"
        distance = ks_distance(
            box_features(generated)[feature], box_features(nih_boxes()[name])[feature]
        )
        assert distance <= 0.15, f"{name} {feature}: KS distance {distance:.3f} from NIH's boxes"

    @pytest.mark.parametrize("name", BOX_CLASSES)
    def test_pattern_fills_its_box(self, name):
        xx, yy = grid(256)
        for k in range(12):
            box = np.array(sample_box(name, np.random.default_rng(k))) * 256
            anatomy = sample_anatomy(np.random.default_rng(100 + k))
            extent, _ = FINDINGS[name](xx, yy, anatomy, np.random.default_rng(k), box / 256)
            rows = np.flatnonzero((extent > EXTENT_LEVEL).any(axis=1))
            cols = np.flatnonzero((extent > EXTENT_LEVEL).any(axis=0))
            found = np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], float)
            want = np.array([*box[:2], *(box[:2] + box[2:])])
            low, high = np.maximum(found[:2], want[:2]), np.minimum(found[2:], want[2:])
            inter = np.prod(np.clip(high - low, 0, None))
            union = np.prod(found[2:] - found[:2]) + np.prod(box[2:]) - inter
            assert inter / union > 0.8, f"{name}: the pattern covers {found}, the box is {want}"

    def test_difficulty_scales_the_findings(self):
        base, _ = render_image(5, 3, 0, [], 128, difficulty="easy")
        easy, _ = render_image(5, 3, 0, ["Mass"], 128, difficulty="easy")
        quiet = DIFFICULTIES["easy"]
        fainter = type(quiet)(0.5, quiet.noise, quiet.markings, quiet.ribs)
        faint, _ = render_image(5, 3, 0, ["Mass"], 128, difficulty=fainter)
        strong = np.abs(easy.astype(float) - base).sum()
        weak = np.abs(faint.astype(float) - base).sum()
        assert weak == pytest.approx(0.5 * strong, rel=0.05)
        with pytest.raises(ValueError, match="difficulty"):
            render_image(5, 3, 0, [], 64, difficulty="hard")

    @pytest.mark.parametrize("patient", [7, 42, 99])
    @pytest.mark.parametrize("name", CLASSES)
    def test_each_finding_changes_the_image_where_its_box_is(self, name, patient):
        size = 128
        healthy, _ = render_image(5, patient, 0, [], size, difficulty="easy")
        sick, boxes = render_image(5, patient, 0, [name], size, difficulty="easy")
        diff = np.abs(sick.astype(float) - healthy.astype(float))
        assert diff.max() > 25, f"{name} is barely visible"
        x, y, w, h = boxes[name]
        rows = slice(int(np.floor(y)), int(np.ceil(y + h)))
        cols = slice(int(np.floor(x)), int(np.ceil(x + w)))
        inside = diff[rows, cols].sum()
        assert inside > 0.8 * diff.sum(), f"{name} draws outside its box"
