import numpy as np
import pytest

from cam_boxes_iobb import (
    LocalizationMetric,
    MaxBoxAcc,
    PointingGame,
    ThresholdCurve,
    bootstrap,
    resample_weights,
)

CLASSES = ("Mass", "Nodule", "Effusion")


def random_images(rng: np.random.Generator, n: int, size: int = 24):
    """Per image: predicted boxes, GT boxes and heatmaps, some classes without GT."""
    images = []
    for _ in range(n):
        gt, pred, heatmaps = {}, {}, {}
        for name in CLASSES:
            if rng.random() < 0.6:
                x, y = rng.uniform(0, size - 8, 2)
                gt[name] = [[x, y, rng.uniform(2, 8), rng.uniform(2, 8)]]
                heatmaps[name] = np.clip(rng.random((size, size)) ** 3, 0, 1)
            if rng.random() < 0.7:
                x, y = rng.uniform(0, size - 8, 2)
                pred[name] = [[x, y, rng.uniform(2, 8), rng.uniform(2, 8)]]
        images.append((pred, gt, heatmaps))
    return images


def metrics(keep_records: bool):
    return {
        "fixed": LocalizationMetric(CLASSES, (0.1, 0.5), keep_records=keep_records),
        "authors": LocalizationMetric.seed_authors(CLASSES, keep_records=keep_records),
        "v2": MaxBoxAcc.v2(CLASSES, thresholds=np.linspace(0, 0.95, 8), keep_records=keep_records),
        "pointing": PointingGame(CLASSES, tolerance=3, keep_records=keep_records),
        "curve": ThresholdCurve(CLASSES, (0.2, 0.6), keep_records=keep_records),
    }


def feed(metric_set, images):
    for pred, gt, heatmaps in images:
        metric_set["fixed"].update(pred, gt)
        metric_set["authors"].update(pred, gt)
        metric_set["v2"].update(heatmaps, gt)
        metric_set["pointing"].update(heatmaps, gt)
        metric_set["curve"].update(heatmaps, gt)


def headline(metric_set) -> dict[str, np.ndarray]:
    """compute()'s numbers in the layout of resampled() (classes + mean last)."""
    names = [*CLASSES, "mean"]
    fixed = metric_set["fixed"].compute()
    curve = metric_set["curve"].compute()
    return {
        "fixed accuracy": np.array([[fixed[c][t]["accuracy"] for t in (0.1, 0.5)] for c in names]),
        "fixed afp": np.array([[fixed[c][t]["afp"] for t in (0.1, 0.5)] for c in names]),
        "authors afp": np.array([[metric_set["authors"].compute()[c][0.1]["afp"]] for c in names]),
        "v2": np.array([metric_set["v2"].compute()[c]["max_box_acc"] for c in names]),
        "pointing": np.array([metric_set["pointing"].compute()[c]["accuracy"] for c in names]),
        "curve accuracy": np.array([curve["accuracy"][c] for c in names]),
    }


def resampled(metric_set, weights) -> dict[str, np.ndarray]:
    return {
        "fixed accuracy": metric_set["fixed"].resampled(weights)["accuracy"],
        "fixed afp": metric_set["fixed"].resampled(weights)["afp"],
        "authors afp": metric_set["authors"].resampled(weights)["afp"],
        "v2": metric_set["v2"].resampled(weights)["max_box_acc"],
        "pointing": metric_set["pointing"].resampled(weights)["accuracy"],
        "curve accuracy": metric_set["curve"].resampled(weights)["accuracy"],
    }


class TestResampledMetrics:
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_unit_weights_give_compute(self, seed):
        metric_set = metrics(keep_records=True)
        feed(metric_set, random_images(np.random.default_rng(seed), 30))
        got = resampled(metric_set, np.ones((1, 30)))
        for key, expected in headline(metric_set).items():
            np.testing.assert_allclose(got[key][0], expected, atol=1e-12, err_msg=key)

    @pytest.mark.parametrize("seed", [0, 1])
    def test_weights_equal_repeating_the_images(self, seed):
        # the slow reference: rebuild every metric from the resampled list of images
        rng = np.random.default_rng(seed)
        images = random_images(rng, 25)
        metric_set = metrics(keep_records=True)
        feed(metric_set, images)
        groups = rng.integers(0, 9, size=25)  # patients with several images
        weights = resample_weights(groups, n_resamples=5, seed=seed)
        fast = resampled(metric_set, weights)
        for r in range(5):
            chosen = [img for img, w in zip(images, weights[r], strict=True) for _ in range(int(w))]
            reference = metrics(keep_records=False)
            feed(reference, chosen)
            for key, expected in headline(reference).items():
                np.testing.assert_allclose(fast[key][r], expected, atol=1e-12, err_msg=key)

    def test_merge_concatenates_records(self):
        images = random_images(np.random.default_rng(5), 20)
        whole, first, second = metrics(True), metrics(True), metrics(True)
        feed(whole, images)
        feed(first, images[:12])
        feed(second, images[12:])
        for key in first:
            first[key].merge(second[key])
        weights = resample_weights(range(20), 4, seed=1)
        for key, value in resampled(first, weights).items():
            np.testing.assert_array_equal(value, resampled(whole, weights)[key], err_msg=key)

    def test_records_documented_shapes(self):
        metric_set = metrics(keep_records=True)
        feed(metric_set, random_images(np.random.default_rng(0), 7))
        assert metric_set["fixed"].records()["hits"].shape == (7, 3, 2)
        assert metric_set["fixed"].records()["gt_boxes"].shape == (7, 3)
        assert metric_set["v2"].records()["correct"].shape == (7, 3, 8, 3)
        assert metric_set["pointing"].records()["pairs"].shape == (7, 3)

    def test_without_records_says_how_to_get_them(self):
        metric = LocalizationMetric(CLASSES)
        metric.update({}, {"Mass": [[0, 0, 2, 2]]})
        with pytest.raises(ValueError, match=r"shape \(R, 0\)"):
            metric.resampled(np.ones((1, 1)))
        empty = PointingGame(CLASSES)
        with pytest.raises(ValueError, match="keep_records=True"):
            empty.resampled(np.ones((1, 0)))


class TestBootstrap:
    def test_resample_weights_move_patients_together(self):
        groups = ["p1", "p1", "p2", "p3", "p3", "p3"]
        weights = resample_weights(groups, 200, seed=3)
        assert weights.shape == (200, 6)
        assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 3] == weights[:, 5]).all()
        # each resample draws as many patients as there are
        patients = weights[:, [0, 2, 3]]
        assert (patients.sum(axis=1) == 3).all()
        np.testing.assert_array_equal(weights, resample_weights(groups, 200, seed=3))

    def test_known_variance_of_a_proportion(self):
        # one image per patient: the bootstrap sd of a mean of 0/1 is sqrt(p (1 - p) / n)
        rng = np.random.default_rng(0)
        hits = (rng.random(400) < 0.3).astype(float)
        p, n = hits.mean(), len(hits)
        weights = resample_weights(range(n), 4000, seed=1)
        values = weights @ hits / weights.sum(axis=1)
        assert values.std() == pytest.approx(np.sqrt(p * (1 - p) / n), rel=0.05)
        result = bootstrap(lambda w: w @ hits / w.sum(axis=1), range(n), 4000, seed=1)
        half_width = 1.96 * np.sqrt(p * (1 - p) / n)
        assert float(result.low) == pytest.approx(p - half_width, abs=0.01)
        assert float(result.high) == pytest.approx(p + half_width, abs=0.01)

    def test_copies_of_a_patient_add_no_information(self):
        # three identical images per patient: the same interval as one image per patient
        rng = np.random.default_rng(2)
        hits = (rng.random(100) < 0.6).astype(float)
        once = bootstrap(lambda w: w @ hits / w.sum(axis=1), np.arange(100), seed=4)
        triple = np.repeat(hits, 3)
        thrice = bootstrap(
            lambda w: w @ triple / w.sum(axis=1), np.repeat(np.arange(100), 3), seed=4
        )
        assert float(once.low) == pytest.approx(float(thrice.low))
        assert float(once.high) == pytest.approx(float(thrice.high))

    def test_undefined_resamples_are_counted_and_left_out(self):
        # a class present in one patient only: undefined whenever that patient is not drawn
        gt = np.array([1.0, 0, 0, 0, 0])
        hits = np.array([1.0, 0, 0, 0, 0])

        def accuracy(w):
            with np.errstate(invalid="ignore"):
                return np.where(w @ gt > 0, (w @ hits) / (w @ gt), np.nan)

        result = bootstrap(accuracy, range(5), 1000, seed=0)
        expected_missing = (4 / 5) ** 5 * 1000
        assert abs(int(result.undefined) - expected_missing) < 4 * np.sqrt(expected_missing)
        assert float(result.low) == float(result.high) == 1.0
        assert result.entry()["resamples"] == 1000 - int(result.undefined)

    def test_paired_difference_excludes_zero_only_when_it_should(self):
        rng = np.random.default_rng(0)
        a = (rng.random(300) < 0.7).astype(float)
        better = np.maximum(a, (rng.random(300) < 0.3).astype(float))  # never worse, often better
        same = a.copy()
        diff = bootstrap(lambda w: (w @ better - w @ a) / w.sum(axis=1), range(300), seed=0)
        none = bootstrap(lambda w: (w @ same - w @ a) / w.sum(axis=1), range(300), seed=0)
        assert bool(diff.excludes_zero()) and not bool(none.excludes_zero())

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            pytest.param({"n_resamples": 0}, "n_resamples", id="no-resamples"),
            pytest.param({"confidence": 1.0}, "confidence", id="confidence-one"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            bootstrap(lambda w: w.sum(axis=1), range(3), **kwargs)

    def test_statistic_of_the_wrong_shape(self):
        with pytest.raises(ValueError, match=r"shape \(R, ...\)"):
            bootstrap(lambda w: w.sum(axis=0), range(3), n_resamples=10)


# state_dict / load_state_dict: a metric saved as arrays (np.savez, no pickle) and restored into
# a fresh metric computes and resamples exactly what the original does.


def restored_through_npz(original, fresh, tmp_path):
    for name, metric in original.items():
        np.savez(tmp_path / f"{name}.npz", **metric.state_dict())
        with np.load(tmp_path / f"{name}.npz", allow_pickle=False) as state:
            fresh[name].load_state_dict(dict(state))
    return fresh


@pytest.mark.parametrize("keep_records", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_round_trip_computes_the_same(tmp_path, seed, keep_records):
    original = metrics(keep_records)
    feed(original, random_images(np.random.default_rng(seed), 12))
    restored = restored_through_npz(original, metrics(keep_records), tmp_path)
    for key, expected in headline(original).items():
        np.testing.assert_array_equal(headline(restored)[key], expected, err_msg=key)
    if keep_records:
        weights = np.random.default_rng(seed).poisson(1.0, (5, 12))
        for key, expected in resampled(original, weights).items():
            np.testing.assert_array_equal(resampled(restored, weights)[key], expected, err_msg=key)


def test_restored_metric_keeps_streaming(tmp_path):
    """Restoring then updating equals updating the original: the state is the whole state."""
    images = random_images(np.random.default_rng(3), 10)
    whole = metrics(True)
    feed(whole, images)
    first = metrics(True)
    feed(first, images[:6])
    resumed = restored_through_npz(first, metrics(True), tmp_path)
    feed(resumed, images[6:])
    for key, expected in headline(whole).items():
        np.testing.assert_array_equal(headline(resumed)[key], expected, err_msg=key)


def test_empty_metric_round_trips():
    metric = PointingGame(["Nodule"], keep_records=True)
    fresh = PointingGame(["Nodule"], keep_records=True)
    fresh.load_state_dict(metric.state_dict())
    assert fresh.records()["hits"].shape == (0, 1)


@pytest.mark.parametrize(
    ("make", "other"),
    [
        (lambda: LocalizationMetric(["A", "B"]), lambda: LocalizationMetric(["A"])),
        (lambda: MaxBoxAcc.v2(["A"]), lambda: MaxBoxAcc(["A"])),
        (lambda: PointingGame(["A", "B"]), lambda: PointingGame(["A"])),
    ],
)
def test_other_settings_are_refused_by_name(make, other):
    with pytest.raises(ValueError, match=r"state_dict\['\w+'\] has shape"):
        other().load_state_dict(make().state_dict())


def test_missing_key_is_named():
    state = LocalizationMetric(["A"]).state_dict()
    del state["gt_boxes"]
    with pytest.raises(KeyError, match="gt_boxes"):
        LocalizationMetric(["A"]).load_state_dict(state)
