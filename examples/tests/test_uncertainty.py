import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cxr14_data import BOX_CLASSES, CLASSES
from cxr_paper.configuration.task import chestxray14
from cxr_paper.scoring.auroc import weighted_auroc
from cxr_paper.scoring.headlines import HEADLINES
from cxr_paper.scoring.interval_types import Difference
from cxr_paper.scoring.outcome import TestResult as Result
from cxr_paper.scoring.scores import LocalizationScores
from cxr_paper.scoring.study import StudyRun, aggregate
from cxr_paper.scoring.uncertainty import (
    auroc_statistic,
    model_intervals,
    paired_maps,
    paired_models,
    reindex,
)


class TestWeightedAuroc:
    @pytest.mark.parametrize("seed", range(5))
    def test_equals_sklearn_with_sample_weights(self, seed):
        rng = np.random.default_rng(seed)
        n = 60
        labels = rng.random(n) < 0.3
        scores = np.round(rng.random(n), 1)  # many ties
        weights = rng.integers(0, 4, size=(8, n)).astype(float)
        got = weighted_auroc(labels, scores, weights)
        for r in range(8):
            w = weights[r]
            if w[labels].sum() and w[~labels].sum():
                expected = roc_auc_score(labels, scores, sample_weight=w)
                assert got[r] == pytest.approx(expected, abs=1e-12)
            else:
                assert np.isnan(got[r])

    def test_one_label_value_is_undefined(self):
        assert np.isnan(weighted_auroc(np.ones(4), np.arange(4.0), np.ones((1, 4))))[0]


def fake_scores(rng, names, patients, seed=0) -> LocalizationScores:
    scores = LocalizationScores(chestxray14(), seed=seed)
    for name, patient in zip(names, patients, strict=True):
        maps = rng.random((14, 8, 8)).astype(np.float32) ** 4
        gt = {c: np.array([[8.0, 8.0, 20.0, 16.0]]) for c in BOX_CLASSES[:3] if rng.random() < 0.7}
        gt = gt or {"Mass": np.array([[30.0, 30.0, 10.0, 10.0]])}
        scores.update(maps, rng.random(14), (64, 64), gt, patient, name)
    return scores


def fake_test(seed: int, n: int = 40) -> Result:
    rng = np.random.default_rng(seed)
    names = [f"{i:08d}_000.png" for i in range(n)]
    patients = [i // 2 for i in range(n)]
    labels = (rng.random((n, 14)) < 0.3).astype(float)
    probs = np.clip(labels * 0.3 + rng.random((n, 14)) * 0.7, 0, 1)
    box = slice(0, n // 2)
    scores = {
        v: fake_scores(np.random.default_rng([seed, k]), names[box], patients[box])
        for k, v in enumerate(("cam", "pcm"))
    }
    return Result(
        auroc={},
        localization={},
        labels=labels,
        probs=probs,
        box_images=n // 2,
        task=chestxray14(),
        image_names=names,
        patients=patients,
        scores=scores,
    )


class TestIntervals:
    def test_estimates_are_the_reported_numbers(self):
        test = fake_test(0)
        intervals = model_intervals(test, n_resamples=50, seed=0)
        auroc = auroc_statistic(test.labels, test.probs)(np.ones((1, 40)))[0]
        for k, name in enumerate([*CLASSES, "mean"]):
            assert intervals.auroc[name].estimate == pytest.approx(auroc[k])
        computed = test.scores["cam"].compute()
        cam = intervals.localization["cam"]
        assert cam["accuracy"]["mean"].estimate == pytest.approx(
            computed.iobb["0.1"]["mean"].accuracy
        )
        assert cam["afp"]["Mass"].estimate == pytest.approx(computed.iobb["0.1"]["Mass"].afp)
        assert cam["max_box_acc_v2"]["mean"].estimate == pytest.approx(
            computed.max_box_acc_v2["mean"].max_box_acc
        )
        assert cam["pointing_game"]["mean"].estimate == pytest.approx(
            computed.pointing_game["mean"].accuracy
        )
        calibrated = computed.calibrated.accuracy["mean"]
        estimate = cam["calibrated_accuracy"]["mean"].estimate
        assert estimate == pytest.approx(calibrated) or (estimate is None and np.isnan(calibrated))
        for entry in cam["accuracy"].values():
            if entry.known:
                assert entry.low <= entry.high

    def test_each_headline_is_read_where_its_estimate_comes_from(self):
        """``KindScores.headline`` (a result's numbers) and ``LocalizationScores.headline`` (the
        bootstrap's stack, by its own computation) agree for every headline and class."""
        test = fake_test(5)
        intervals = model_intervals(test, n_resamples=20, seed=0).localization
        for kind, scores in test.scores.items():
            computed = scores.compute()
            for headline in HEADLINES:
                for name, entry in intervals[kind][headline].items():
                    expected = computed.headline(headline, name)
                    if not entry.known:
                        assert np.isnan(expected), (kind, headline, name)
                    else:
                        assert entry.estimate == pytest.approx(expected), (kind, headline, name)

    def test_paired_difference_of_a_model_with_itself_is_zero(self):
        test = fake_test(1)
        same = paired_models(test, test, n_resamples=50, seed=0)
        assert same.mean_auroc.estimate == 0 and not same.mean_auroc.excludes_zero
        for kind in ("cam", "pcm"):
            for headline in HEADLINES:
                entry = same.localization[kind][headline]
                assert (entry.estimate == 0 or not entry.known) and not entry.excludes_zero

    def test_paired_maps_equal_the_difference_of_the_estimates(self):
        test = fake_test(2)
        paired = paired_maps(test, n_resamples=50, seed=0)["pcm - cam"]
        cam, pcm = (test.scores[v].compute().fixed["mean"] for v in ("cam", "pcm"))
        assert paired["accuracy"].estimate == pytest.approx(pcm.accuracy - cam.accuracy)
        assert paired["afp"].estimate == pytest.approx(pcm.afp - cam.afp)

    def test_pairing_follows_image_names_not_order(self):
        a, b = fake_test(3), fake_test(4)
        order = np.random.default_rng(0).permutation(40)
        shuffled = Result(
            auroc={},
            localization={},
            labels=b.labels[order],
            probs=b.probs[order],
            box_images=b.box_images,
            task=b.task,
            image_names=[b.image_names[i] for i in order],
            patients=[b.patients[i] for i in order],
            scores=b.scores,
        )
        plain = paired_models(a, b, n_resamples=100, seed=5)
        mixed = paired_models(a, shuffled, n_resamples=100, seed=5)
        assert plain.mean_auroc == mixed.mean_auroc

    def test_reindex(self):
        weights = np.array([[1.0, 2.0, 3.0]])
        mapped = reindex(["a", "b", "c"], ["c", "x", "a"])(weights)
        np.testing.assert_array_equal(mapped, [[3.0, 0.0, 1.0]])


@pytest.mark.slow  # thousands of two-level resamples
class TestStudy:
    def test_pooled_mean_and_spread_over_seeds(self):
        runs = [
            StudyRun(0, s, {"m": fake_test(10 + s), "multires_m": fake_test(20 + s)})
            for s in range(3)
        ]
        study = aggregate(runs, [("multires_m", "m")], n_resamples=100, seed=0)
        row = study.data_seeds[0].numbers["m"]["mean AUROC"]
        values = [
            auroc_statistic(r.tests["m"].labels, r.tests["m"].probs)(np.ones((1, 40)))[0, -1]
            for r in runs
        ]
        np.testing.assert_allclose(row.values, values)
        assert row.mean == pytest.approx(np.mean(values))
        assert row.sd == pytest.approx(np.std(values, ddof=1))
        assert row.pooled.estimate == pytest.approx(np.mean(values))
        difference = study.data_seeds[0].differences["multires_m − m"]["mean AUROC"]
        assert difference.mean == pytest.approx(
            np.mean(study.data_seeds[0].numbers["multires_m"]["mean AUROC"].values) - row.mean
        )
        assert isinstance(difference.pooled, Difference)

    def test_pooled_interval_resamples_seeds_and_patients(self):
        """Against a brute-force two-level bootstrap with its own random stream: draw patients
        (each drawn patient brings all their images), draw as many runs as there are, average
        the drawn runs' mean AUROC written as the pairwise (Mann-Whitney) probability. The
        percentile intervals agree to Monte-Carlo accuracy, not draw for draw."""
        runs = [StudyRun(0, s, {"m": fake_test(30 + s)}) for s in range(3)]
        resamples = 3000
        row = aggregate(runs, [], n_resamples=resamples, seed=3).data_seeds[0].numbers["m"]
        rng = np.random.default_rng(12345)
        patients = np.asarray(runs[0].tests["m"].patients)
        unique = np.unique(patients)
        drawn_patients = rng.choice(unique, size=(resamples, len(unique)))
        counts = (drawn_patients[:, :, None] == unique[None, None, :]).sum(1)  # (R, P)
        weights = counts[:, np.searchsorted(unique, patients)].astype(float)  # (R, N)

        def pairwise_mean_auroc(test) -> np.ndarray:
            per_class = []
            for k in range(test.labels.shape[1]):
                positive = test.labels[:, k] == 1
                s_pos, s_neg = test.probs[positive, k], test.probs[~positive, k]
                wins = (s_pos[:, None] > s_neg[None, :]) + 0.5 * (s_pos[:, None] == s_neg[None, :])
                w_pos, w_neg = weights[:, positive], weights[:, ~positive]
                pairs = w_pos.sum(1) * w_neg.sum(1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    per_class.append(np.einsum("ri,ij,rj->r", w_pos, wins, w_neg) / pairs)
            return np.nanmean(np.where(np.isinf(per_class), np.nan, per_class), axis=0)

        per_run = np.stack([pairwise_mean_auroc(r.tests["m"]) for r in runs])  # (S, R)
        chosen = rng.integers(len(runs), size=(resamples, len(runs)))
        means = per_run[chosen, np.arange(resamples)[:, None]].mean(1)
        low, high = np.quantile(means, [0.025, 0.975])
        pooled = row["mean AUROC"].pooled
        assert pooled.low == pytest.approx(low, abs=0.01)
        assert pooled.high == pytest.approx(high, abs=0.01)
        assert pooled.high - pooled.low == pytest.approx(high - low, rel=0.1)

    def test_a_seed_that_flips_the_sign_keeps_the_difference_unmarked(self):
        # two seeds say +0.2, one says -0.2: the two-level interval must include 0
        def constant(value):
            test = fake_test(50)
            test.probs = np.clip(test.labels * value + 0.5, 0, 1)
            return test

        runs = [
            StudyRun(0, s, {"m": fake_test(60), "multires_m": constant(v)})
            for s, v in enumerate((0.4, 0.4, -0.4))
        ]
        study = aggregate(runs, [("multires_m", "m")], n_resamples=400, seed=0)
        row = study.data_seeds[0].differences["multires_m − m"]["mean AUROC"]
        assert min(row.values) < 0 < max(row.values)
        assert not row.pooled.excludes_zero


@pytest.mark.parametrize("seed", range(5))
def test_table_1_is_scikit_learns_auroc(seed):
    from cxr_paper.scoring.auroc import macro_auroc

    rng = np.random.default_rng(seed)
    labels = (rng.random((60, 3)) < 0.3).astype(float)
    labels[:2] = [[1, 1, 0], [0, 0, 0]]
    labels[:, 2] = 0  # a class without positives: NaN, left out of the mean
    scores = np.round(rng.random((60, 3)), 1)  # ties
    got = macro_auroc(labels, scores, ["a", "b", "c"])
    for k, name in enumerate("ab"):
        assert got[name] == pytest.approx(roc_auc_score(labels[:, k], scores[:, k]), abs=1e-12)
    assert np.isnan(got["c"]) and got["mean"] == pytest.approx((got["a"] + got["b"]) / 2)
