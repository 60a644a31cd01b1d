"""Every layout's table through LayoutDataset and the loader into one optimiser step of a tiny
model with the masked weighted BCE's rule (uncertain labels out of the loss): images found
(nested ones too), labels by policy, patients as ints, boxes carried by the transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dicom_writer import write_dicom
from PIL import Image
from torch.utils.data import DataLoader

from cxr14_data import collate, paper_transforms
from cxr14_data.layouts import (
    CHEXPERT_CLASSES,
    LayoutDataset,
    read_chexpert,
    read_rsna,
    read_siim,
    read_vindr_kaggle,
)

pytest.importorskip("pydicom", reason="the DICOM layouts need pydicom")


def _jpg(path, size=48, value=120):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(path)


def _chexpert(root):
    header = "Path,Sex,Age,Frontal/Lateral,AP/PA," + ",".join(CHEXPERT_CLASSES)
    rows = []
    for p in range(4):
        path = f"CheXpert-v1.0-small/train/patient0000{p}/study1/view1_frontal.jpg"
        _jpg(root / path, value=40 * p + 20)
        labels = ["1.0" if (p + k) % 3 == 0 else "-1.0" if k == p else "" for k in range(14)]
        rows.append(f"{path},Male,60,Frontal,PA," + ",".join(labels))
    (root / "train.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return read_chexpert(root / "train.csv"), {}


def _dicoms(folder, names, nested=False):
    for i, name in enumerate(names):
        where = folder / (f"1.2.3/{i}/{name}" if nested else name)
        where.parent.mkdir(parents=True, exist_ok=True)
        write_dicom(where, np.full((64, 64), 30 * i + 10, dtype=np.uint16))


def _rsna(root):
    ids = ["a1", "b2", "c3", "d4"]
    _dicoms(root / "stage_2_train_images", [f"{i}.dcm" for i in ids])
    (root / "stage_2_train_labels.csv").write_text(
        "patientId,x,y,width,height,Target\na1,8,8,16,16,1\nb2,,,,,0\nc3,,,,,0\nd4,4,4,8,8,1\n"
    )
    return read_rsna(root), {"a1": {"Lung Opacity": np.array([[8.0, 8.0, 16.0, 16.0]])}}


def _vindr(root):
    ids = ["v1", "v2", "v3", "v4"]
    _dicoms(root / "train", [f"{i}.dicom" for i in ids])
    rows = [f"{i},No finding,14,R{r},,,," for i in ids[:3] for r in (1, 2, 3)]
    rows += [f"v4,Cardiomegaly,3,R{r},10,10,30,30" for r in (1, 2)] + ["v4,No finding,14,R3,,,,"]
    (root / "train.csv").write_text(
        "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n" + "\n".join(rows) + "\n"
    )
    return read_vindr_kaggle(root), {}


def _siim(root):
    ids = ["1.2.840.1", "1.2.840.2", "1.2.840.3", "1.2.840.4"]
    _dicoms(root / "dicom-images-train", [f"{i}.dcm" for i in ids], nested=True)
    (root / "train-rle.csv").write_text(
        "ImageId, EncodedPixels\n" + "".join(f"{i}, -1\n" for i in ids[:3]) + f"{ids[3]}, 5 2\n"
    )
    return read_siim(root), {}


@pytest.mark.parametrize("layout", [_chexpert, _rsna, _vindr, _siim])
def test_each_layout_feeds_a_training_step(tmp_path, layout):
    table, boxes = layout(tmp_path)
    dataset = LayoutDataset(table, tmp_path, paper_transforms(False, 32), boxes=boxes)
    assert len(dataset) == 4 and dataset.skipped == 0
    batch = next(iter(DataLoader(dataset, batch_size=4, collate_fn=collate)))
    assert batch["image"].shape == (4, 3, 32, 32)
    assert batch["labels"].shape == batch["label_mask"].shape == (4, len(table.classes))
    assert batch["label_mask"].dtype == torch.bool
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, len(table.classes))
    )
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    logits = model(batch["image"])
    terms = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, batch["labels"], reduction="none"
    )
    loss = (terms * batch["label_mask"]).sum() / len(logits)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())
    optimiser.step()
    if boxes:
        first = dataset[0]["boxes"]["Lung Opacity"]
        assert torch.allclose(first, torch.tensor([[4.0, 4.0, 8.0, 8.0]]))  # 64 px -> 32 px


def test_uncertain_labels_are_masked_and_patients_numbered(tmp_path):
    table, _ = _chexpert(tmp_path)
    dataset = LayoutDataset(table, tmp_path, uncertain="u-ignore")
    item = dataset[1]  # patient 1: class 1 uncertain
    assert not item["label_mask"][1] and item["labels"][1] == 0
    ones = LayoutDataset(table, tmp_path, uncertain="u-ones")
    assert ones[1]["label_mask"][1] and ones[1]["labels"][1] == 1
    assert [dataset[i]["patient_id"] for i in range(4)] == [0, 1, 2, 3]


def test_a_missing_image_is_named_or_skipped(tmp_path):
    table, _ = _chexpert(tmp_path)
    (tmp_path / table.paths[2]).unlink()
    with pytest.raises(FileNotFoundError, match="1 images of the chexpert table"):
        LayoutDataset(table, tmp_path)
    with pytest.warns(UserWarning, match="Skipped 1"):
        dataset = LayoutDataset(table, tmp_path, on_missing="skip")
    assert len(dataset) == 3 and dataset.skipped == 1
