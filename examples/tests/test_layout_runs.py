"""The pipeline on other published layouts (``--data LAYOUT:PATH``): ``--data`` read and refused,
splits by group, every layout's loader feeding a training step (U-Ignore's masked labels get no
gradient), and whole runs on RSNA (boxes: localization scored) and MIMIC-CXR (uncertain test
labels left out of AUROC, as scikit-learn computes it on the known ones; no boxes: said)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from cam_boxes_iobb.cli import main as score_command
from cxr14_data.layouts import LAYOUTS
from cxr_paper.configuration.cli import get_args_parser, resolve_config
from cxr_paper.configuration.config import RunConfig, preset_values
from cxr_paper.configuration.data_source import DataSource
from cxr_paper.errors import RunError
from cxr_paper.inputs.data import build_loaders, config_task
from cxr_paper.inputs.layout_splits import SPLITS_FILE, assign_splits
from cxr_paper.inputs.models import build_model
from cxr_paper.machine.distributed import DistContext
from weighted_bce import DynamicWeightedBCEWithLogitsLoss

pytest.importorskip("pydicom")
CPU = DistContext(0, 1, 0, torch.device("cpu"))


def _config(tmp_path, data: str, **changes) -> RunConfig:
    values = {**preset_values("smoke"), "out": str(tmp_path / "run"), "data": data}
    values.update(synthetic_patients=16, synthetic_size=48, image_size=48, batch_size=6)
    return replace(RunConfig(**values), **changes)


class TestDataFlag:
    def test_an_unknown_layout_is_refused_naming_the_layouts(self, tmp_path):
        args = get_args_parser().parse_args(
            ["--preset", "smoke", "--out", str(tmp_path / "o"), "--data", "padchest:/x"]
        )
        with pytest.raises(RunError, match=r"'padchest' is no layout; expected one of \['nih'"):
            resolve_config(args)
        assert not (tmp_path / "o").exists()

    @pytest.mark.parametrize(
        ("flag", "value", "message"),
        [
            ("--uncertainty", "u-maybe", "--uncertainty 'u-maybe': expected one of"),
            ("--views", "lateral", "--views 'lateral'"),
            ("--readers", "two", "--readers 'two'"),
            ("--mimic-labels", "radgraph", "--mimic-labels 'radgraph'"),
            ("--test-fraction", "1.5", "--test-fraction 1.5"),
        ],
    )
    def test_bad_layout_settings_are_refused(self, tmp_path, flag, value, message):
        args = get_args_parser().parse_args(
            ["--preset", "smoke", "--out", str(tmp_path / "o"), "--data", "rsna:x", flag, value]
        )
        with pytest.raises(RunError, match=message):
            resolve_config(args)

    def test_chexlocalize_is_for_scoring_not_training(self, tmp_path):
        args = get_args_parser().parse_args(
            ["--preset", "smoke", "--out", str(tmp_path / "o"), "--data", "chexlocalize:/d"]
        )
        with pytest.raises(RunError, match="CheXlocalize holds validation and test images only"):
            resolve_config(args)

    def test_the_task_is_the_sets_own_class_list(self, tmp_path):
        task = config_task(_config(tmp_path, "vindr:synthetic"))
        assert task.name == "VinDr-CXR" and len(task.classes) == 15
        assert "No finding" in task.classes and "No finding" not in task.box_classes
        assert config_task(_config(tmp_path, "chexpert:synthetic")).box_classes == ()
        assert DataSource.parse("mimic:/d").name == "MIMIC-CXR-JPG"


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=5, max_size=60),
    val=st.floats(0.05, 0.5),
    test=st.floats(0.05, 0.5),
    seed=st.integers(0, 3),
)
def test_splits_keep_a_groups_images_together_and_draw_the_shares(sizes, val, test, seed):
    groups = [f"p{g}" for g, size in enumerate(sizes) for _ in range(size)]
    splits = assign_splits(groups, None, {}, val, test, seed)
    by_group: dict[str, set[str]] = {}
    for group, split in zip(groups, splits, strict=True):
        by_group.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in by_group.values())
    n = len(sizes)
    test_groups = sum(1 for s in by_group.values() if s == {"test"})
    assert test_groups == max(1, round(test * n))
    val_groups = sum(1 for s in by_group.values() if s == {"val"})
    assert val_groups == (max(1, round(val * (n - test_groups))) if n - test_groups >= 3 else 0)


def test_published_splits_are_kept_and_only_the_missing_one_drawn():
    groups = [f"p{i}" for i in range(20)]
    published = ["train"] * 15 + ["valid"] * 5
    splits = assign_splits(groups, published, {"train": "train", "valid": "test"}, 0.2, 0.5, 0)
    assert splits[15:] == ["test"] * 5 and splits[:15].count("val") == 3
    assert "test" not in splits[:15]


@pytest.mark.parametrize("layout", [layout for layout in LAYOUTS if layout != "chexlocalize"])
def test_every_layouts_loader_feeds_a_training_step(tmp_path, layout):
    config = _config(tmp_path, f"{layout}:synthetic")
    loaders = build_loaders(config, CPU)
    batch = next(iter(loaders.train))
    assert (
        batch["labels"].shape
        == batch["label_mask"].shape
        == (len(batch["image"]), len(loaders.task.classes))
    )
    model = build_model("resnet10t", config, len(loaders.task.classes))
    logits = model(batch["image"]).logits
    logits.retain_grad()
    loss = DynamicWeightedBCEWithLogitsLoss()(logits, batch["labels"], batch["label_mask"])
    loss.backward()
    assert torch.isfinite(loss)
    masked = ~batch["label_mask"]
    assert masked.any() == (layout in ("chexpert", "mimic"))  # their uncertain labels are here
    assert torch.all(logits.grad[masked] == 0)  # U-Ignore: an uncertain label moves nothing
    assert torch.all(logits.grad[~masked] != 0)
    with open(tmp_path / "run" / SPLITS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert sum(len(loaders.dataset(s)) for s in ("train", "val", "test")) == len(rows)


def test_mimics_negbio_labels_are_read_from_their_own_file(tmp_path):
    config = _config(tmp_path, "mimic:synthetic", mimic_labels="negbio")
    with pytest.raises(RunError, match=r"mimic-cxr-2.0.0-negbio.csv'\] found"):
        build_loaders(config, CPU)  # the synthetic set writes the CheXpert labeler's only


def test_uncertain_chexpert_labels_are_masked_and_u_ones_makes_them_positive(tmp_path):
    ignore = build_loaders(_config(tmp_path / "a", "mimic:synthetic"), CPU).dataset("train")
    ones = build_loaders(
        _config(tmp_path / "b", "mimic:synthetic", uncertainty="u-ones"), CPU
    ).dataset("train")
    uncertain = ignore.table.labels == -1
    assert uncertain.any() and not ignore.masks[uncertain].any()
    assert ones.masks[uncertain].all() and (ones.targets[uncertain] == 1).all()


@pytest.fixture(scope="module")
def layout_runs(tmp_path_factory):
    import reproduce_paper

    runs = {}
    score_on = {"rsna": ["vindr:synthetic"], "chexpert": ["chexlocalize:synthetic"], "mimic": []}
    for layout in ("rsna", "mimic", "chexpert"):
        out = tmp_path_factory.mktemp(layout)
        flags = ["--preset", "smoke", "--out", str(out), "--data", f"{layout}:synthetic"]
        flags += ["--synthetic-patients", "24" if layout == "mimic" else "60"]
        flags += ["--test-fraction", "0.4"]
        flags += ["--score-on", *score_on[layout]] if score_on[layout] else []
        reproduce_paper.main(get_args_parser().parse_args(flags))
        runs[layout] = out
    return runs


@pytest.mark.slow
def test_a_run_on_rsna_scores_its_boxes(layout_runs):
    out = layout_runs["rsna"]
    report = (out / "report.md").read_text()
    assert "## Table 2 — localization accuracy" in report and "| Lung Opacity |" in report
    assert "RSNA Pneumonia gives no patient ids: splits and intervals are per image" in report
    entry = json.loads((out / "metrics.json").read_text())["resnet10t"]
    assert entry["task"]["name"] == "RSNA Pneumonia" and entry["localization_images"] > 0
    card = (out / "resnet10t" / "pretrained" / "README.md").read_text()
    assert "RSNA Pneumonia" in card


@pytest.mark.slow
def test_score_on_scores_each_model_on_another_sets_boxes(layout_runs):
    out = layout_runs["rsna"]
    report = (out / "report.md").read_text()
    assert "## Scored on other data sets (`--score-on`)" in report
    for model in ("resnet10t", "multires_resnet10t"):
        entry = json.loads((out / "score_on" / "vindr" / model / "score.json").read_text())
        assert entry["task"]["classes"] == ["Lung Opacity"]  # the one class both sets name
        assert "Aortic enlargement" in entry["unscored_classes"]
        assert f"`score_on/vindr/{model}/score.md`" in report


@pytest.mark.slow
def test_a_run_on_mimic_leaves_uncertain_test_labels_out_of_auroc(layout_runs):
    out = layout_runs["mimic"]
    records = np.load(out / "resnet10t" / "test_records.npz")
    labels, probs = records["labels"], records["probs"]
    assert np.isnan(labels).any()  # MIMIC's test labels keep the labeler's uncertain ones
    auroc = json.loads((out / "metrics.json").read_text())["resnet10t"]["auroc"]
    for k, name in enumerate(records["classes"]):
        known = ~np.isnan(labels[:, k])
        if len(set(labels[known, k])) == 2:
            assert auroc[name] == pytest.approx(roc_auc_score(labels[known, k], probs[known, k]))
        else:
            assert auroc[name] is None or math.isnan(auroc[name])
    report = (out / "report.md").read_text()
    assert "has no boxes or masks, so nothing is localized on it here" in report
    assert "Table 2" not in report


@pytest.mark.slow
def test_chexpert_to_chexlocalize_as_its_protocol_and_cam_boxes_iobb_score_it(layout_runs):
    out = layout_runs["chexpert"]
    report = (out / "report.md").read_text()
    assert "CheXlocalize's protocol, mean over its pathologies" in report
    folder = out / "score_on" / "chexlocalize" / "multires_resnet10t"
    entry = json.loads((folder / "score.json").read_text())
    assert entry["task"]["classes"][3] == "Airspace Opacity"  # CheXpert's Lung Opacity
    protocol = entry["chexlocalize"]["cam"]
    assert set(protocol["thresholds"].values()) <= {0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}
    assert (
        protocol["test_images"] > 0
        and "## CheXlocalize's protocol — CAM" in (folder / "score.md").read_text()
    )
    (data,) = (folder / "data").glob("synthetic_chexlocalize_*")
    scored = out / "cam_boxes_iobb"
    command = ["score", "--maps", str(folder / "maps" / "cam.npz"), "--format", "chexlocalize"]
    command += ["--annotations", str(data / "CheXlocalize" / "gt_segmentations_test.json")]
    assert score_command([*command, "--out", str(scored), "--resamples", "0"]) == 0
    results = json.loads((scored / "score.json").read_text())["maps"]["cam"]["results"]
    for ours, theirs in (("miou_otsu", "miou"), ("hit_rate", "hit_rate")):
        assert protocol[ours]["mean"]["estimate"] == pytest.approx(
            results[theirs]["mean"]["estimate"], nan_ok=True
        )
