"""Training noise from a seed study's runs, checked by hand on made-up runs, and what a run's
report says with it and without it."""

import json
import math

import numpy as np
import pytest
from result_factories import difference, interval, model_metrics

from cxr_paper.reporting.noise_report import paired_table, training_noise_section
from cxr_paper.scoring.comparisons import Comparison
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import Difference, ModelIntervals
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.training_noise import Z, annotate, flatten, judge, summarize_runs


def _entry(auroc, accuracy, difference_value, half_width=0.02):
    intervals = ModelIntervals(
        {"mean": interval(auroc, half_width)},
        {MapKind.parse("cam"): {Headline.ACCURACY: {"mean": interval(accuracy, half_width)}}},
    )
    paired = {Comparison.parse("pcm - cam"): {Headline.ACCURACY: difference(difference_value)}}
    return model_metrics(intervals=intervals, paired=paired)


def _runs(tmp_path, values):
    """One run folder per ``(data_seed, seed, auroc, accuracy, difference)``."""
    runs = []
    for data_seed, seed, auroc, accuracy, change in values:
        config = {"preset": "demo", "epochs": 5, "seed": seed, "data_seed": data_seed}
        runs.append((f"d{data_seed}s{seed}", config, {"m": _entry(auroc, accuracy, change)}))
    return runs


def test_flatten_names_every_headline():
    keys = set(flatten(_entry(0.8, 0.4, 0.1), "m"))
    assert keys == {"m · AUROC", "m · cam · accuracy", "m · pcm - cam · accuracy"}


def test_summary_by_hand(tmp_path):
    """Data seed 0: accuracies 0.30, 0.40, 0.50 (sd 0.1); data seed 1: 0.20, 0.40 (sd 0.1414).
    Pooled training variance: (2 x 0.01 + 1 x 0.02) / 3 = 0.013333; test sd: 0.02 / 1.96."""
    runs = _runs(
        tmp_path,
        [
            (0, 0, 0.8, 0.3, 0.1),
            (0, 1, 0.8, 0.4, 0.1),
            (0, 2, 0.8, 0.5, 0.1),
            (1, 0, 0.8, 0.2, 0.1),
            (1, 1, 0.8, 0.4, 0.1),
        ],
    )
    summary = summarize_runs(runs)
    accuracy = summary["numbers"]["m · cam · accuracy"]
    train_var = (2 * 0.01 + 1 * 0.02) / 3
    test_var = (0.02 / Z) ** 2
    assert accuracy["training_sd"] == pytest.approx(math.sqrt(train_var))
    assert accuracy["test_sd"] == pytest.approx(math.sqrt(test_var))
    assert accuracy["training_share"] == pytest.approx(train_var / (train_var + test_var))
    assert accuracy["mean"] == pytest.approx(np.mean([0.3, 0.4, 0.5, 0.2, 0.4]))
    assert accuracy["data_seed_sd"] == pytest.approx(np.std([0.4, 0.3], ddof=1))
    assert summary["numbers"]["m · AUROC"]["training_sd"] == pytest.approx(0, abs=1e-12)
    assert summary["training_seeds"] == {"0": [0, 1, 2], "1": [0, 1]}
    assert summary["settings"] == {"preset": "demo", "epochs": 5}


def test_runs_of_other_settings_are_refused(tmp_path):
    runs = _runs(tmp_path, [(0, 0, 0.8, 0.3, 0.1), (0, 1, 0.8, 0.4, 0.1)])
    name, config, metrics = runs[1]
    runs[1] = (name, {**config, "epochs": 6}, metrics)
    with pytest.raises(ValueError, match="other settings"):
        summarize_runs(runs)


@pytest.mark.parametrize(
    ("estimate", "training_sd", "verdict"),
    [
        (0.10, 0.0, "finding"),
        (0.10, 0.03, "finding"),  # 0.10 > 1.96 * hypot(0.0255, 0.03) = 0.077
        (0.10, 0.06, "test noise only"),  # 0.10 < 1.96 * hypot(0.0255, 0.06) = 0.128
        (0.01, 0.0, "none"),  # the interval holds 0
        (0.10, None, "finding"),  # no study: test-set noise is all that is known
    ],
)
def test_judge_by_hand(estimate, training_sd, verdict):
    entry = Difference(estimate, estimate - 0.05, estimate + 0.05, 0.95, 1000, estimate > 0.05)
    assert judge(entry, training_sd) == verdict
    assert judge(None, training_sd) == "none"


def test_the_report_marks_what_training_noise_could_make(tmp_path):
    folder = tmp_path / "noise"
    folder.mkdir()
    study = summarize_runs(
        _runs(tmp_path, [(0, s, 0.8, 0.4, d) for s, d in enumerate((0.0, 0.2, 0.4))])
    )
    (folder / "demo.json").write_text(json.dumps(study))
    metrics = {"m": _entry(0.8, 0.4, 0.1)}  # +0.1, interval [0.08, 0.12]: test noise excluded
    metrics, _ = annotate(metrics, {"preset": "demo", "epochs": 5, "seed": 7}, folder)
    assert metrics["m"].noise.study.runs == 3
    assert (
        "+0.100 [+0.080, +0.120] †" in paired_table(metrics).to_markdown()
    )  # training sd 0.2: not a finding
    section = training_noise_section(metrics).to_markdown()
    rows = [line for line in section.splitlines() if line.startswith("| m")]
    assert len(rows) == 3 and all("| 0 % |" in row for row in rows[:2])  # robust first
    assert (
        "pcm - cam" in rows[2] and "[-0.192, +0.592]" in rows[2] and "| +0.100 | 0.200 |" in rows[2]
    )

    other = {"m": _entry(0.8, 0.4, 0.1)}
    other, _ = annotate(other, {"preset": "demo", "epochs": 9}, folder)  # no study
    assert other["m"].noise.study is None
    assert "+0.100 [+0.080, +0.120] ✓" in paired_table(other).to_markdown()
    assert "Not measured for these settings" in training_noise_section(other).to_markdown()
    assert "test patients only" in other["m"].noise.intervals_cover


def test_the_demo_preset_has_its_committed_study():
    """A plain demo run (`python examples/reproduce_paper.py`) finds the study of its settings:
    at least ten training seeds on one data set and three data sets."""
    import dataclasses

    from cxr_paper.configuration.config import RunConfig, preset_values
    from cxr_paper.scoring.training_noise import noise_for

    summary = noise_for(dataclasses.asdict(RunConfig(**preset_values("demo"))))
    assert summary is not None
    seeds = summary["training_seeds"]
    assert len(seeds) >= 3 and max(len(v) for v in seeds.values()) >= 10
    accuracy = summary["numbers"]["multires_resnet10t · cam · accuracy"]
    assert accuracy["runs"] == sum(len(v) for v in seeds.values())
    assert accuracy["training_sd"] > accuracy["test_sd"]  # what the README says of it
