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

    def test_boxes_match_the_csv(self, synthetic_root):
        dataset = ChestXray14(synthetic_root, "test")
        csv_boxes = read_bbox_list(synthetic_root)
        index = {r.image_index: i for i, r in enumerate(dataset.records)}
        for box in csv_boxes:
            got = dataset[index[box.image_index]]["boxes"][box.label]
            assert any(torch.allclose(row, torch.tensor(box.xywh)) for row in got)

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

    def test_absent_store_falls_back_to_png(self, synthetic_root):
        assert ChestXray14(synthetic_root, "val", prepared_size=99)._store is None
