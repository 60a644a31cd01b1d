"""A model trained on one data set scored on another's annotations: the model's classes mapped
to the set's through the vocabulary (hand-worked: NIH → VinDr-CXR), the unmapped ones listed;
``score_model.py --data vindr:...`` of the smoke run's ChestX-ray14 model reproduced by
``python -m cam_boxes_iobb score`` on the maps it saved and VinDr's own ``train.csv``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cam_boxes_iobb.cli import main as score_command
from cxr14_data.labels import CLASSES
from cxr14_data.layouts import CHEXPERT_CLASSES, VINDR_CLASSES
from cxr_paper.configuration.task import chestxray14
from cxr_paper.errors import RunError
from cxr_paper.inputs.class_subset import ClassSubset, subset_task
from cxr_paper.jobs import score
from cxr_paper.scoring.class_mapping import ClassMapping

pytest.importorskip("pydicom")


def test_nih_to_vindr_by_hand():
    mapping = ClassMapping.between(CLASSES, VINDR_CLASSES, "vindr")
    pairs = {
        "Atelectasis": ("Atelectasis",),
        "Cardiomegaly": ("Cardiomegaly",),
        "Consolidation": ("Consolidation",),
        "Infiltration": ("Infiltration",),
        "Nodule/Mass": ("Nodule", "Mass"),
        "Pleural effusion": ("Effusion",),
        "Pleural thickening": ("Pleural_Thickening",),
        "Pneumothorax": ("Pneumothorax",),
        "Pulmonary fibrosis": ("Fibrosis",),
    }
    assert mapping.classes == tuple(c for c in VINDR_CLASSES if c in pairs)
    sources = zip(mapping.classes, mapping.sources, strict=True)
    got = {c: tuple(CLASSES[i] for i in s) for c, s in sources}
    assert got == pairs and mapping.near == {"Nodule/Mass": ("Nodule", "Mass")}
    assert set(mapping.unscored) == set(VINDR_CLASSES) - set(pairs)
    assert mapping.model_set == "nih" and not mapping.identity
    same = ClassMapping.between(CHEXPERT_CLASSES, CHEXPERT_CLASSES, "mimic")
    assert same.identity and same.model_set == "chexpert"


def test_no_counterpart_at_all_is_refused():
    with pytest.raises(RunError, match="none of the data's classes"):
        ClassMapping.between(CLASSES, ("Lung Opacity",), "rsna")


def test_a_class_subset_selects_labels_masks_and_boxes():
    full = chestxray14()
    task = subset_task(full, ["Effusion", "Hernia"])
    item = {
        "labels": torch.arange(14.0),
        "label_mask": torch.arange(14) % 2 == 0,
        "boxes": {"Effusion": torch.ones(1, 4), "Mass": torch.ones(2, 4)},
        "image_index": "a",
    }
    got = ClassSubset([item], full, task)[0]
    assert got["labels"].tolist() == [2.0, 13.0] and got["label_mask"].tolist() == [True, False]
    assert list(got["boxes"]) == ["Effusion"] and got["image_index"] == "a"


@pytest.mark.slow
def test_a_nih_model_on_vindr_as_cam_boxes_iobb_scores_it(smoke_run, tmp_path):
    run, _ = smoke_run
    out = tmp_path / "vindr"
    flags = ["--model", str(run / "multires_resnet10t"), "--data", "vindr:synthetic"]
    entry = score.main(score.get_args_parser().parse_args([*flags, "--out", str(out)]))
    assert entry.scored_as == {"Nodule/Mass": ["Nodule", "Mass"]}
    assert "Aortic enlargement" in entry.unscored_classes and entry.localization_images > 0
    text = (out / "score.md").read_text()
    assert "`Nodule/Mass` scored as the maximum of the model's `Nodule`, `Mass`" in text
    records = np.load(out / "test_records.npz")
    assert records["classes"].tolist() == list(entry.task.classes)
    (data,) = (out / "data").glob("synthetic_vindr_*")
    scored_ids = set(np.load(out / "maps" / "cam.npz")["image_ids"].tolist())
    lines = (data / "train.csv").read_text().splitlines()
    test_rows = tmp_path / "train_test_split_rows.csv"  # the rows of the images scored
    test_rows.write_text(
        "\n".join([lines[0], *(r for r in lines[1:] if r.split(",")[0] in scored_ids)])
    )
    scored = tmp_path / "cam_boxes_iobb"
    command = ["score", "--maps", str(out / "maps" / "cam.npz"), "--format", "vindr"]
    command += ["--annotations", str(test_rows), "--dicom-dir", str(data / "train")]
    command += ["--score-size", "128", "128", "--out", str(scored), "--resamples", "0"]
    assert score_command(command) == 0
    results = json.loads((scored / "score.json").read_text())["maps"]["cam"]["results"]
    ours = entry.localization["cam"]
    assert set(results["accuracy"]["0.1"]) <= {*entry.task.box_classes, "mean"}
    assert "mean" in results["accuracy"]["0.1"]
    for label in [*entry.task.box_classes, "mean"]:
        theirs = results["accuracy"]["0.1"].get(label, {}).get("estimate")
        if theirs is not None:
            assert theirs == pytest.approx(ours.iobb["0.1"][label].accuracy, nan_ok=True)
