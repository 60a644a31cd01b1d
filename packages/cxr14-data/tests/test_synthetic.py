import filecmp
from collections import Counter

import numpy as np
import pytest

from cxr14_data import (
    BOX_CLASSES,
    CLASSES,
    SYNTHETIC_PREVALENCE,
    decode_gray,
    find_images,
    make_synthetic,
    read_bbox_list,
    read_data_entry,
    read_split_list,
)
from cxr14_data.synthetic import render_image


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

    def test_class_frequencies_as_documented(self, tmp_path):
        root = make_synthetic(tmp_path, n_patients=700, image_size=32, seed=2, progress=False)
        records = read_data_entry(root)
        counts = Counter(label for r in records for label in r.labels)
        for name, p in SYNTHETIC_PREVALENCE.items():
            expected = p * len(records)
            assert abs(counts[name] - expected) < 4 * np.sqrt(expected * (1 - p)), name
        assert counts["Infiltration"] == max(counts.values())
        assert counts["Hernia"] == min(counts.values())
        assert any(len(r.labels) > 1 for r in records) and any(not r.labels for r in records)

    @pytest.mark.parametrize("patient", [7, 42, 99])
    @pytest.mark.parametrize("name", CLASSES)
    def test_each_finding_changes_the_image_where_its_box_is(self, name, patient):
        size = 128
        healthy, _ = render_image(5, patient, 0, [], size)
        sick, boxes = render_image(5, patient, 0, [name], size)
        diff = np.abs(sick.astype(float) - healthy.astype(float))
        assert diff.max() > 25, f"{name} is barely visible"
        x, y, w, h = (int(v) for v in boxes[name])
        inside = diff[y : y + h, x : x + w].sum()
        assert inside > 0.8 * diff.sum(), f"{name} draws outside its box"

    def test_nodules_are_small_and_masses_larger(self):
        def area(name):
            return [np.prod(render_image(0, p, 0, [name], 256)[1][name][2:]) for p in range(20)]

        nodules, masses = area("Nodule"), area("Mass")
        assert max(nodules) < 16 * 16  # a nodule box fits in two 8-px CAM cells at 256 px
        assert min(masses) > max(nodules)

    def test_findings_in_plausible_places(self):
        size = 256
        for patient in range(10):
            _, boxes = render_image(
                1, patient, 0, ["Cardiomegaly", "Effusion", "Pneumothorax"], size
            )
            cx = boxes["Cardiomegaly"][0] + boxes["Cardiomegaly"][2] / 2
            assert 0.4 * size < cx < 0.75 * size  # the heart sits right of the midline
            effusion_bottom = boxes["Effusion"][1] + boxes["Effusion"][3]
            assert effusion_bottom > 0.55 * size  # fluid collects at the lung base
            assert boxes["Pneumothorax"][1] < 0.35 * size  # air rises to the apex
