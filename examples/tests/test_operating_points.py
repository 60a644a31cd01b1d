"""Operating points and probability calibration against brute-force loops, scikit-learn and
torchmetrics, on random inputs and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from cxr_paper.deploy.operating_points import (
    Rule,
    check_thresholds,
    choose_threshold,
    operating_points,
    sensitivity_specificity,
)
from cxr_paper.deploy.probability_calibration import (
    BINS,
    calibration_error,
    calibration_report,
    fit_temperature,
    mean_bce,
)
from cxr_paper.files.typed_json import to_json


def _rates(labels: np.ndarray, scores: np.ndarray, t: float) -> tuple[float, float]:
    called = scores > t
    sens = (called & labels).sum() / labels.sum()
    spec = (~called & ~labels).sum() / (~labels).sum()
    return float(sens), float(spec)


def _candidates(scores: np.ndarray) -> list[float]:
    values = np.unique(scores)
    below_all = math.nextafter(float(values[0]), -math.inf)  # every image positive
    return [below_all, *((values[1:] + values[:-1]) / 2), 1.0]


def _random_class(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 60))
    labels = rng.random(n) < rng.uniform(0.1, 0.6)
    labels[:2] = [True, False]
    scores = np.round(np.clip(rng.normal(0.3 + 0.3 * labels, 0.2), 0, 0.999), 2)  # with ties
    return labels, scores


@pytest.mark.parametrize("seed", range(25))
def test_youden_is_the_best_threshold_of_a_brute_force_search(seed: int) -> None:
    labels, scores = _random_class(seed)
    chosen = choose_threshold(labels, scores, "youden")
    merits = {t: sum(_rates(labels, scores, t)) for t in _candidates(scores)}
    best = max(merits.values())
    assert sum(_rates(labels, scores, chosen)) == pytest.approx(best, abs=1e-12)
    highest_best = max(t for t, m in merits.items() if m > best - 1e-12)
    assert chosen == pytest.approx(highest_best)


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 1.0])
def test_targets_against_a_brute_force_search(seed: int, target: float) -> None:
    labels, scores = _random_class(seed)
    rates = {t: _rates(labels, scores, t) for t in _candidates(scores)}
    for kind, held, maximised in (("sensitivity", 0, 1), ("specificity", 1, 0)):
        chosen = choose_threshold(labels, scores, f"{kind}:{target}")
        got = _rates(labels, scores, chosen)
        assert got[held] >= target - 1e-12
        best = max(r[maximised] for r in rates.values() if r[held] >= target - 1e-12)
        assert got[maximised] == pytest.approx(best)


def test_hand_worked_thresholds_and_edges() -> None:
    labels = np.array([0, 0, 1, 0, 1, 1])
    scores = np.array([0.1, 0.3, 0.35, 0.6, 0.7, 0.9])
    assert choose_threshold(labels, scores, "specificity:1.0") == pytest.approx(0.65)
    assert choose_threshold(labels, scores, "sensitivity:0.5") == pytest.approx(0.65)
    # every image positive at sensitivity 1 when the lowest score is a positive
    assert choose_threshold([1, 0, 1], [0.1, 0.5, 0.9], "sensitivity:1.0") == 0.0
    assert choose_threshold([1, 1], [0.2, 0.3], "youden") is None
    assert choose_threshold([0, 0], [0.2, 0.3], "youden") is None


def test_a_threshold_chosen_at_a_score_of_zero_reproduces_its_rates() -> None:
    """``sensitivity:1.0`` on scores [0, .8, .3], labels [1, 1, 0] stored t = 0.0, and
    ``p > t`` then gave sensitivity 0.5 (float32's sigmoid is 0.0 below about -104)."""
    labels, scores = np.array([True, True, False]), np.array([0.0, 0.8, 0.3])
    chosen = choose_threshold(labels, scores, "sensitivity:1.0")
    assert _rates(labels, scores, chosen) == (1.0, 0.0) and chosen < 0
    logits = torch.tensor([-200.0, -104.0, -50.0, 3.0, 20.0])
    probs = torch.sigmoid(logits).numpy().astype(np.float64)  # 0.0, 0.0, 2e-22, ...
    truth = np.array([True, True, False, True, False])
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(truth, probs, drop_intermediate=False)
    points = {(round(float(a), 12), round(float(1 - b), 12)) for a, b in zip(tpr, fpr, strict=True)}
    for rule in ("sensitivity:1.0", "youden", "specificity:0.5"):
        rates = _rates(truth, probs, choose_threshold(truth, probs, rule))
        assert tuple(round(r, 12) for r in rates) in points  # p > t gives an ROC point
    assert _rates(truth, probs, choose_threshold(truth, probs, "sensitivity:1.0"))[0] == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_adjacent_scores_are_told_apart(seed: int) -> None:
    """Two scores one float apart: their midpoint rounds to one of them, and the threshold must
    still call the higher one positive."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.9)
    scores = np.array([base, np.nextafter(base, 1.0), rng.uniform(0, 1)])
    labels = np.array([False, True, bool(rng.integers(2))])
    chosen = choose_threshold(labels, scores, "youden")
    assert scores[1] > chosen >= scores[0]


@pytest.mark.parametrize("text", ["recall:0.9", "sensitivity", "sensitivity:0", "youden:1", ""])
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="operating point"):
        Rule.parse(text)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_rates_match_sklearn_confusion_matrix(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random((40, 3)) < 0.4
    labels[:2] = [[True] * 3, [False] * 3]
    scores = rng.random((40, 3))
    thresholds = rng.uniform(0.2, 0.8, 3)
    weights = rng.integers(0, 3, (4, 40)).astype(float)
    weights[:, :2] = 1
    got = sensitivity_specificity(labels, scores, thresholds, weights)
    for r in range(4):
        for k in range(3):
            tn, fp, fn, tp = confusion_matrix(
                labels[:, k], scores[:, k] > thresholds[k], sample_weight=weights[r], labels=[0, 1]
            ).ravel()
            assert got[r, k].tolist() == pytest.approx([tp / (tp + fn), tn / (tn + fp)])


def test_operating_points_fall_back_and_give_intervals() -> None:
    rng = np.random.default_rng(0)
    val_labels = (rng.random((200, 2)) < 0.3).astype(float)
    val_labels[:, 1] = 0  # no positive on validation: the fallback
    val_probs = np.clip(0.3 * val_labels + rng.random((200, 2)) * 0.7, 0, 1)
    test_labels = (rng.random((120, 2)) < 0.3).astype(float)
    test_probs = np.clip(0.3 * test_labels + rng.random((120, 2)) * 0.7, 0, 1)
    patients = np.repeat(np.arange(60), 2)
    result = operating_points(
        val_labels, val_probs, test_labels, test_probs, patients, ["A", "B"], "youden", 0.5, 200
    )
    assert result.chosen == {"A": True, "B": False}
    assert result.thresholds["B"] == 0.5
    sens = result.test["A"].sensitivity
    expected = _rates(test_labels[:, 0] > 0, test_probs[:, 0], result.thresholds["A"])[0]
    assert sens.estimate == pytest.approx(expected)
    assert sens.low <= sens.estimate <= sens.high
    assert sens.high - sens.low > 0.01
    assert result.saved() == {"rule": "youden", "thresholds": {"A": result.thresholds["A"]}}


def test_saved_thresholds_are_checked() -> None:
    assert check_thresholds({"A": 0.2}, ["A", "B"]) is None
    assert "not the model's" in check_thresholds({"C": 0.2}, ["A"])
    assert "[-1, 1]" in check_thresholds({"A": 1.5}, ["A"])
    assert "[-1, 1]" in check_thresholds({"A": float("nan")}, ["A"])
    assert check_thresholds({"A": -5e-324}, ["A"]) is None  # every image positive
    assert "mapping" in check_thresholds([0.2], ["A"])


def _brute_ece(labels: np.ndarray, probs: np.ndarray) -> float:
    total = 0.0
    for b in range(BINS):
        low, high = b / BINS, (b + 1) / BINS
        inside = [i for i, p in enumerate(probs) if (low < p <= high) or (b == 0 and p == 0)]
        if inside:
            share = np.mean([labels[i] for i in inside])
            confidence = np.mean([probs[i] for i in inside])
            total += len(inside) / len(probs) * abs(share - confidence)
    return total


@pytest.mark.parametrize("seed", range(10))
def test_ece_matches_a_loop_and_torchmetrics(seed: int, torchmetrics) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.random(300) ** rng.uniform(0.5, 2)
    labels = (rng.random(300) < probs**1.5).astype(float)
    got = float(calibration_error(labels, probs)[0])
    assert got == pytest.approx(_brute_ece(labels, probs), abs=1e-12)
    reference = torchmetrics.classification.BinaryCalibrationError(n_bins=BINS, norm="l1")
    expected = float(reference(torch.tensor(probs), torch.tensor(labels).long()))
    assert got == pytest.approx(expected, abs=1e-6)


def test_ece_weights_equal_repeated_images_and_edges() -> None:
    rng = np.random.default_rng(3)
    probs, labels = rng.random(50), (rng.random(50) < 0.5).astype(float)
    weights = rng.integers(0, 4, 50)
    repeated = np.repeat(np.arange(50), weights)
    assert calibration_error(labels, probs, weights[None].astype(float))[0] == pytest.approx(
        calibration_error(labels[repeated], probs[repeated])[0]
    )
    assert calibration_error(np.array([1.0, 0.0]), np.array([1.0, 0.0]))[0] == 0.0
    assert calibration_error(np.ones(4), np.zeros(4))[0] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_temperature_is_the_minimum_of_a_grid_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (500, 3))
    labels = (rng.random((500, 3)) < 1 / (1 + np.exp(-z))).astype(float)
    logits = z * rng.uniform(0.3, 4)
    found = fit_temperature(logits, labels)
    grid = np.exp(np.linspace(-3, 3, 6001))
    best = grid[np.argmin([mean_bce(logits, labels, t) for t in grid])]
    assert found == pytest.approx(best, rel=2e-3)
    assert mean_bce(logits, labels, found) <= mean_bce(logits, labels, best) + 1e-9


def test_temperature_scaling_lowers_the_ece_of_overconfident_probabilities() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(-1, 1.5, (3000, 2))
    labels = (rng.random((3000, 2)) < 1 / (1 + np.exp(-z))).astype(float)
    probs = 1 / (1 + np.exp(-3 * z))  # three times too confident
    report = calibration_report(
        labels[:1500], 3 * z[:1500], labels[1500:], probs[1500:],
        np.arange(1500), ["A", "B"], temperature_scaling=True, resamples=200,
    )  # fmt: skip
    assert report.temperature == pytest.approx(3, rel=0.15)
    assert not report.temperature_at_bound
    before, after = report.before.ece["all"], report.after.ece["all"]
    assert after.estimate < before.estimate / 2
    assert after.high < before.low
    assert sum(b.count for b in report.before.curve) == 3000
    plain = calibration_report(
        labels[:1500], 3 * z[:1500], labels[1500:], probs[1500:],
        np.arange(1500), ["A", "B"], temperature_scaling=False, resamples=50,
    )  # fmt: skip
    assert plain.after is None and plain.temperature == 1.0
    assert to_json(plain)["after"] == {}  # as results have always written it
    observed = plain.before.curve[14].observed
    assert math.isnan(observed.estimate) or 0 <= observed.estimate <= 1


def test_a_temperature_at_the_search_bound_is_flagged() -> None:
    rng = np.random.default_rng(1)
    labels = (rng.random((400, 2)) < 0.1).astype(float)
    logits = 3.0 + rng.normal(0, 0.5, (400, 2))  # every probability high: an offset, not a scale
    report = calibration_report(
        labels[:200], logits[:200], labels[200:], 1 / (1 + np.exp(-logits[200:])),
        np.arange(200), ["A", "B"], temperature_scaling=True, resamples=20,
    )  # fmt: skip
    assert report.temperature == pytest.approx(np.exp(3), rel=1e-3)
    assert report.temperature_at_bound
