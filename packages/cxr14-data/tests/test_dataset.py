import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cxr14_data import (
    CLASSES,
    ChestXray14,
    MetadataError,
    collate,
    make_synthetic,
    paper_transforms,
    prepare,
    read_bbox_list,
    read_data_entry,
)


@pytest.fixture
def writable_root(synthetic_root, tmp_path):
    return shutil.copytree(synthetic_root, tmp_path / "data")


class TestChestXray14:
    def test_splits_partition_the_data(self, synthetic_root):
        splits = {
            s: ChestXray14(synthetic_root, s, no_finding=None) for s in ("train", "val", "test")
        }
        names = {s: {r.image_index for r in d.records} for s, d in splits.items()}
        assert not names["train"] & names["val"] and not names["train"] & names["test"]
        assert sum(len(n) for n in names.values()) == len(read_data_entry(synthetic_root))
        patients = {s: {r.patient_id for r in d.records} for s, d in splits.items()}
        assert not patients["train"] & patients["val"] and not patients["val"] & patients["test"]

    def test_item(self, synthetic_root):
        dataset = ChestXray14(synthetic_root, "test")
        item = dataset[0]
        assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.uint8
        assert item["labels"].shape == (14,)
        record = dataset.records[0]
        assert item["image_index"] == record.image_index and item["patient_id"] == record.patient_id
        assert item["labels"].nonzero().flatten().tolist() == [
            CLASSES.index(c) for c in record.labels
        ]

    def test_boxes_survive_the_eval_resize(self, synthetic_root):
        raw = ChestXray14(synthetic_root, "test")
        resized = ChestXray14(synthetic_root, "test", transform=paper_transforms(False, size=128))
        with_boxes = [i for i, r in enumerate(raw.records) if raw[i]["boxes"]]
        assert with_boxes, "the fixture should have test images with boxes"
        for i in with_boxes:
            a, b = raw[i]["boxes"], resized[i]["boxes"]
            assert a.keys() == b.keys()
            for name in a:
                torch.testing.assert_close(b[name], a[name] * 2)
        item = resized[with_boxes[0]]
        assert item["image"].shape == (3, 128, 128) and item["image"].dtype == torch.float32

    def test_boxes_are_the_csv_scaled_from_the_1024_frame(self, synthetic_root):
        dataset = ChestXray14(synthetic_root, "test")  # 64 px PNGs, CSV in the 1024 frame
        csv_boxes = read_bbox_list(synthetic_root)
        index = {r.image_index: i for i, r in enumerate(dataset.records)}
        assert max(b.x + b.w for b in csv_boxes) > 64  # the CSV is not in the PNGs' pixels
        for box in csv_boxes:
            got = dataset[index[box.image_index]]["boxes"][box.label]
            expected = torch.tensor(box.xywh) * 64 / 1024
            assert any(torch.allclose(row, expected) for row in got)

    def test_boxes_fall_where_the_findings_were_drawn(self, synthetic_root):
        # the renderer's own boxes (in the PNG's pixels) against what the loader returns
        from cxr14_data.synthetic import render_image

        dataset = ChestXray14(synthetic_root, "test")
        checked = 0
        for i, record in enumerate(dataset.records):
            boxes = dataset[i]["boxes"]
            if not boxes:
                continue
            _, drawn = render_image(3, record.patient_id, record.follow_up, record.labels, 64)
            for name, rows in boxes.items():
                torch.testing.assert_close(rows[0], torch.tensor(drawn[name]), atol=1e-4, rtol=0)
                checked += 1
        assert checked > 3

    @pytest.mark.parametrize("size", [48, 100])
    def test_boxes_follow_any_png_size(self, tmp_path, size):
        root = make_synthetic(tmp_path, n_patients=12, image_size=size, seed=3, progress=False)
        dataset = ChestXray14(root, "test", transform=paper_transforms(False, 64))
        csv_boxes = {(b.image_index, b.label): b.xywh for b in read_bbox_list(root)}
        for i, record in enumerate(dataset.records):
            for name, rows in dataset[i]["boxes"].items():
                expected = torch.tensor(csv_boxes[record.image_index, name]) * 64 / 1024
                torch.testing.assert_close(rows[0], expected, atol=1e-3, rtol=1e-4)

    def test_box_outside_the_frame_names_the_row(self, writable_root):
        dataset = ChestXray14(writable_root, "test")
        first = read_bbox_list(writable_root)[0]
        lines = (writable_root / "BBox_List_2017.csv").read_text().splitlines()
        lines[1] = lines[1].replace(f"{first.x}", "1000.0", 1)  # x + w now beyond 1024
        (writable_root / "BBox_List_2017.csv").write_text("\n".join(lines) + "\n")
        with pytest.raises(MetadataError, match=r"BBox_List_2017.csv, line 2.*outside the 1024"):
            ChestXray14(writable_root, "test")
        with pytest.warns(UserWarning, match="Dropped 1 boxes"):
            skipping = ChestXray14(writable_root, "test", on_bad_box="skip")
        assert [b.image_index for b in skipping.bad_boxes] == [first.image_index]
        assert skipping.box_images <= dataset.box_images

    def test_boxes_in_the_png_pixels_with_box_frame_none(self, writable_root):
        # a custom data set whose CSV is in each PNG's own pixels: the old convention, opt-in
        lines = (writable_root / "BBox_List_2017.csv").read_text().splitlines()
        header, rows = lines[0], [line.split(",") for line in lines[1:]]
        for row in rows:
            row[2:6] = [str(float(v) / 16) for v in row[2:6]]
        text = "\n".join([header, *(",".join(r) for r in rows)]) + "\n"
        (writable_root / "BBox_List_2017.csv").write_text(text)
        frame = ChestXray14(writable_root, "test")  # 1024 frame: boxes now 16x too small
        own = ChestXray14(writable_root, "test", box_frame=None)
        reference = ChestXray14(writable_root, "test", box_frame=(64, 64))
        for i in range(len(own)):
            for name, rows_ in own[i]["boxes"].items():
                torch.testing.assert_close(rows_, reference[i]["boxes"][name])
                torch.testing.assert_close(frame[i]["boxes"][name] * 16, rows_)

    def test_bad_box_frame(self, synthetic_root):
        with pytest.raises(ValueError, match="box_frame"):
            ChestXray14(synthetic_root, "test", box_frame=(0, 1024))
        with pytest.raises(ValueError, match="on_bad_box"):
            ChestXray14(synthetic_root, "test", on_bad_box="clamp")

    def test_train_transform_runs(self, synthetic_root):
        dataset = ChestXray14(synthetic_root, "train", transform=paper_transforms(True, size=48))
        assert dataset[0]["image"].shape == (3, 48, 48)

    def test_dataloader_and_collate(self, synthetic_root):
        dataset = ChestXray14(synthetic_root, "test", transform=paper_transforms(False, 64))
        batch = next(iter(DataLoader(dataset, batch_size=4, collate_fn=collate)))
        assert batch["image"].shape == (4, 3, 64, 64) and batch["labels"].shape == (4, 14)
        assert len(batch["boxes"]) == 4 and isinstance(batch["image_index"][0], str)

    def test_label_matrix(self, synthetic_root):
        dataset = ChestXray14(synthetic_root, "val")
        assert torch.equal(dataset.labels[1], dataset[1]["labels"])

    def test_missing_image_error_and_skip(self, writable_root):
        victim = ChestXray14(writable_root, "test").records[0].image_index
        (writable_root / "images" / victim).unlink()
        with pytest.raises(FileNotFoundError, match=victim):
            ChestXray14(writable_root, "test")
        with pytest.warns(UserWarning, match=r"Skipped 1 .*" + victim):
            dataset = ChestXray14(writable_root, "test", on_missing="skip")
        assert dataset.skipped == 1 and victim not in {r.image_index for r in dataset.records}

    def test_listed_but_not_in_data_entry(self, writable_root):
        with open(writable_root / "test_list.txt", "a") as handle:
            handle.write("99999999_000.png\n")
        with pytest.raises(MetadataError, match=r"test_list.txt lists 1 images.*99999999_000.png"):
            ChestXray14(writable_root, "test")

    def test_wrong_root_and_split(self, tmp_path, synthetic_root):
        with pytest.raises(FileNotFoundError, match="Data root not found"):
            ChestXray14(tmp_path / "nowhere")
        with pytest.raises(MetadataError, match="Data_Entry"):
            ChestXray14(tmp_path)
        with pytest.raises(ValueError, match="split.*'validation'"):
            ChestXray14(synthetic_root, "validation")

    def test_corrupt_image_names_the_file(self, writable_root):
        victim = ChestXray14(writable_root, "test").records[0].image_index
        (writable_root / "images" / victim).write_bytes(b"not a png")
        with pytest.raises(OSError, match=victim):
            ChestXray14(writable_root, "test")[0]


class TestPreparedStore:
    def test_reads_the_same_images_and_boxes(self, writable_root):
        prepare(writable_root, size=32, progress=False)
        plain = ChestXray14(writable_root, "test", transform=paper_transforms(False, 32))
        cached = ChestXray14(
            writable_root, "test", transform=paper_transforms(False, 32), prepared_size=32
        )
        assert cached._store is not None and plain._store is None
        for i in range(len(plain)):
            a, b = plain[i], cached[i]
            assert (
                a["image"] - b["image"]
            ).abs().max() < 0.15  # same content, resized once vs on the fly
            assert a["boxes"].keys() == b["boxes"].keys()
            for name in a["boxes"]:
                torch.testing.assert_close(a["boxes"][name], b["boxes"][name])

    def test_store_contents_and_worker_pickling(self, writable_root):
        import pickle

        from cxr14_data import PreparedStore, decode_gray, find_images

        folder = prepare(writable_root, size=32, workers=2, progress=False)
        store = PreparedStore(folder)
        name = store.names[0]
        assert store.read(name).shape == (32, 32) and store.stored_sizes[name] == (64, 64)
        clone = pickle.loads(pickle.dumps(store))
        np.testing.assert_array_equal(clone.read(name), store.read(name))
        original = decode_gray(find_images(writable_root)[name]).astype(float)
        assert abs(store.read(name).astype(float).mean() - original.mean()) < 3

    @pytest.mark.parametrize("size", [32, 96])
    def test_store_boxes_are_scaled_from_the_frame(self, writable_root, tmp_path, size):
        # a store of another size than the PNGs, kept outside the (read-only) data root
        cache = tmp_path / "cache"
        folder = prepare(writable_root, size=size, progress=False, cache=cache)
        assert folder == cache / f"prepared_{size}" and not list(writable_root.glob("prepared_*"))
        stored = ChestXray14(writable_root, "test", prepared_size=size, cache=cache)
        assert stored._store is not None
        csv_boxes = {(b.image_index, b.label): b.xywh for b in read_bbox_list(writable_root)}
        for i, record in enumerate(stored.records):
            assert stored[i]["image"].shape == (3, size, size)
            for name, rows in stored[i]["boxes"].items():
                expected = torch.tensor(csv_boxes[record.image_index, name]) * size / 1024
                torch.testing.assert_close(rows[0], expected)

    def test_absent_store_falls_back_to_png(self, synthetic_root):
        assert ChestXray14(synthetic_root, "val", prepared_size=99)._store is None


class TestPreparedStoreMatchesItsImages:
    def test_an_image_replaced_after_prepare_is_refused_by_name(self, writable_root):
        import os

        from cxr14_data import StaleStoreError

        prepare(writable_root, size=32, progress=False)
        victim = ChestXray14(writable_root, "test").records[0].image_index
        path = writable_root / "images" / victim
        other = ChestXray14(writable_root, "test").records[1].image_index
        stat = path.stat()
        path.write_bytes((writable_root / "images" / other).read_bytes())
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        with pytest.raises(StaleStoreError, match=rf"1 images differ .*{victim}.*prepare"):
            ChestXray14(writable_root, "test", prepared_size=32)
        ChestXray14(writable_root, "test")  # the PNGs themselves still read

    def test_a_cache_prepared_from_another_copy_is_refused(self, writable_root, tmp_path):
        import shutil

        from cxr14_data import StaleStoreError

        cache = tmp_path / "cache"
        prepare(writable_root, size=32, progress=False, cache=cache)
        copy = shutil.copytree(writable_root, tmp_path / "copy", copy_function=shutil.copy)
        victim = sorted((copy / "images").iterdir())[0]
        victim.write_bytes(victim.read_bytes() + b"\0")  # other bytes count
        assert ChestXray14(writable_root, "test", prepared_size=32, cache=cache)._store
        with pytest.raises(StaleStoreError, match="differ from the files it was prepared from"):
            ChestXray14(copy, "train", prepared_size=32, cache=cache)

    def test_an_old_or_damaged_index_is_refused(self, writable_root):
        import json

        from cxr14_data import StaleStoreError

        folder = prepare(writable_root, size=32, progress=False)
        index = json.loads((folder / "index.json").read_text())
        (folder / "index.json").write_text(json.dumps({**index, "fingerprints": []}))
        with pytest.raises(StaleStoreError, match="older cxr14-data"):
            ChestXray14(writable_root, "test", prepared_size=32)
        (folder / "index.json").write_text('{"size": 32, "names": ["a.png"]')
        with pytest.raises(StaleStoreError, match="index.json: not a readable"):
            ChestXray14(writable_root, "test", prepared_size=32)

    def test_a_truncated_array_is_refused(self, writable_root):
        from cxr14_data import PreparedStore, StaleStoreError

        folder = prepare(writable_root, size=32, progress=False)
        array = folder / "images.npy"
        array.write_bytes(array.read_bytes()[:-100])
        store = PreparedStore(folder)
        with pytest.raises(StaleStoreError, match=r"images\.npy: cannot be read"):
            store.read(store.names[0])


class TestPrepareFailures:
    @pytest.mark.parametrize("workers", [0, 2])
    def test_a_failed_prepare_leaves_no_temporary_store(self, writable_root, workers):
        """Each failed ``python -m cxr14_data prepare`` left a new ``.prepared_*.tmp/``."""
        victim = ChestXray14(writable_root, "test").records[0].image_index
        (writable_root / "images" / victim).write_bytes(b"not a png")
        with pytest.raises(OSError, match=victim):
            prepare(writable_root, size=32, workers=workers, progress=False)
        assert [p.name for p in writable_root.iterdir() if "prepared" in p.name] == []

    def test_a_truncated_store_is_a_stale_store_error(self, writable_root):
        from cxr14_data import StaleStoreError

        folder = prepare(writable_root, size=32, progress=False)
        array = folder / "images.npy"
        array.write_bytes(array.read_bytes()[: array.stat().st_size // 2])
        with pytest.raises(StaleStoreError, match=str(folder)):
            ChestXray14(writable_root, "test", prepared_size=32)[0]
