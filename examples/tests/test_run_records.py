"""What a run records for a comparison: per-image results, intervals, environment, and the same
numbers from the same seed."""

import json

import numpy as np
import pytest
import reproduce_paper

from cxr14_data import BOX_CLASSES, CLASSES
from cxr_paper.configuration.cli import get_args_parser, resolve_config
from cxr_paper.inputs.synthetic_sets import synthetic_folder_name
from cxr_paper.scoring.headlines import HEADLINES
from cxr_paper.scoring.records import RECORDS_FILE

MODELS = ["resnet10t", "multires_resnet10t"]
#: Keys of a model's metrics.json entry that are timings (they move between runs).
TIMINGS = {"latency_ms", "latency_ms_pcm", "cam_method_seconds"}


def _run(out, *extra):
    args = get_args_parser().parse_args(["--preset", "smoke", "--out", str(out), *extra])
    return reproduce_paper.main(args)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("twice")
    _run(root / "a")
    _run(root / "b")
    return root / "a", root / "b"


def _without_timings(metrics: dict) -> dict:
    return {m: {k: v for k, v in r.items() if k not in TIMINGS} for m, r in metrics.items()}


def test_same_seed_same_numbers(two_runs):
    a, b = (json.loads((run / "metrics.json").read_text()) for run in two_runs)
    assert _without_timings(a) == _without_timings(b)
    assert a[MODELS[0]]["latency_ms"] > 0  # the timings exist, they are only left out


def test_records_file_holds_every_image_without_pickle(two_runs):
    out, _ = two_runs
    metrics = json.loads((out / "metrics.json").read_text())
    for model in MODELS:
        records = np.load(out / model / RECORDS_FILE, allow_pickle=False)
        n = len(records["image_index"])
        assert records["labels"].shape == records["probs"].shape == (n, len(CLASSES))
        assert len(set(records["patient_id"])) <= n
        for kind in ("cam", "pcm"):
            m = len(records[f"{kind}.image_index"])
            assert m == metrics[model]["localization_images"]
            assert records[f"{kind}.gt_boxes"].shape == (m, len(BOX_CLASSES))
            assert records[f"{kind}.max_box_acc_v2_correct"].shape == (m, len(BOX_CLASSES), 100, 3)
            hits = records[f"{kind}.hits_iobb_0.1"].sum(axis=0)
            gt = records[f"{kind}.gt_boxes"].sum(axis=0)
            table = metrics[model]["localization"][kind]["iobb"]["0.1"]
            for k, name in enumerate(BOX_CLASSES):  # the table recomputed from the records
                if gt[k]:
                    assert table[name]["accuracy"] == pytest.approx(hits[k] / gt[k])


def test_metrics_json_has_intervals_pairs_and_environment(two_runs):
    out, _ = two_runs
    metrics = json.loads((out / "metrics.json").read_text())
    for model in MODELS:
        entry = metrics[model]
        assert set(entry["intervals"]["auroc"]) == {*CLASSES, "mean"}
        for kind in ("cam", "pcm"):
            assert set(entry["intervals"]["localization"][kind]) == set(HEADLINES)
        assert set(entry["paired"]["pcm - cam"]) == set(HEADLINES)
        environment = entry["environment"]
        assert environment["versions"]["torch"] and environment["threads"]["intra_op"] >= 1
        assert environment["cpu"]["torch_cpu_capability"]
    across = metrics["multires_resnet10t"]["paired"]["multires_resnet10t - resnet10t"]
    assert "excludes_zero" in across["auroc"]["mean"] and set(across["cam"]) == set(HEADLINES)
    report = (out / "report.md").read_text()
    assert "## Paired differences" in report and "**test patients only**" in report
    assert "## Training noise" in report  # the smoke preset has no study: said so
    assert "Not measured for these settings" in report
    assert "test patients only" in metrics["resnet10t"]["noise"]["intervals_cover"]


def test_training_seed_keeps_the_data_data_seed_changes_it(tmp_path):
    def config(*flags):
        return resolve_config(get_args_parser().parse_args(["--out", str(tmp_path), *flags]))

    base = synthetic_folder_name(config())
    assert synthetic_folder_name(config("--seed", "3")) == base
    assert synthetic_folder_name(config("--data-seed", "3")) != base
    assert synthetic_folder_name(config("--synthetic-difficulty", "easy")) != base
