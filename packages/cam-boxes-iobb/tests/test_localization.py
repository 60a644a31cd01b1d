import math

import numpy as np
import pytest

from cam_boxes_iobb import LocalizationMetric, localization_metrics

CLASSES = ["Atelectasis", "Mass", "Nodule"]
THRESHOLDS = (0.1, 0.25, 0.5, 0.75, 0.9)


def _overlap(p, g, mode):
    """One pair of xywh boxes, written out plainly."""
    ix = max(0.0, min(p[0] + p[2], g[0] + g[2]) - max(p[0], g[0]))
    iy = max(0.0, min(p[1] + p[3], g[1] + g[3]) - max(p[1], g[1]))
    inter = ix * iy
    if mode == "iobb":
        return inter / (p[2] * p[3])
    return inter / (p[2] * p[3] + g[2] * g[3] - inter)


def _reference(preds, gts, classes, thresholds, mode, denominator=None):
    """A slow, obvious re-implementation of the protocol, one box at a time."""
    result = {}
    for name in classes:
        result[name] = {}
        for t in thresholds:
            hit = total = false_pos = 0
            for pred, gt in zip(preds, gts, strict=True):
                p_boxes, g_boxes = pred.get(name, []), gt.get(name, [])
                for g in g_boxes:
                    total += 1
                    if any(_overlap(p, g, mode) > t for p in p_boxes):
                        hit += 1
                for p in p_boxes:
                    if not any(_overlap(p, g, mode) > t for g in g_boxes):
                        false_pos += 1
            result[name][t] = {
                "accuracy": hit / total if total else math.nan,
                "afp": false_pos / (denominator or len(preds)),
            }
    result["mean"] = {}
    for t in thresholds:
        accs = [
            result[c][t]["accuracy"] for c in classes if not math.isnan(result[c][t]["accuracy"])
        ]
        result["mean"][t] = {
            "accuracy": sum(accs) / len(accs) if accs else math.nan,
            "afp": sum(result[c][t]["afp"] for c in classes) / len(classes),
        }
    return result


def _random_images(rng, n_images):
    def boxes(count):
        xy = rng.uniform(0, 200, size=(count, 2))
        wh = rng.uniform(5, 80, size=(count, 2))
        return np.concatenate([xy, wh], axis=1).tolist()

    preds, gts = [], []
    for _ in range(n_images):
        pred = {c: boxes(int(rng.integers(1, 4))) for c in CLASSES if rng.random() < 0.6}
        gt = {c: boxes(int(rng.integers(1, 3))) for c in CLASSES if rng.random() < 0.5}
        for c in gt:  # put some predictions near the GT so that all thresholds are exercised
            if c in pred and rng.random() < 0.7:
                g = gt[c][0]
                pred[c].append(
                    [
                        g[0] + rng.uniform(0, 5),
                        g[1] + rng.uniform(0, 5),
                        g[2] * rng.uniform(0.3, 1.2),
                        g[3] * rng.uniform(0.3, 1.2),
                    ]
                )
        preds.append(pred)
        gts.append(gt)
    return preds, gts


def _assert_results_equal(ours, ref):
    assert ours.keys() == ref.keys()
    for key in ref:
        for t in ref[key]:
            for stat in ("accuracy", "afp"):
                a, b = ours[key][t][stat], ref[key][t][stat]
                assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), (key, t, stat)


class TestLocalizationMetric:
    @pytest.mark.parametrize("mode", ["iobb", "iou"])
    @pytest.mark.parametrize("seed", range(5))
    def test_against_slow_reference(self, seed, mode):
        preds, gts = _random_images(np.random.default_rng(seed), 30)
        ours = localization_metrics(preds, gts, CLASSES, THRESHOLDS, mode)
        _assert_results_equal(ours, _reference(preds, gts, CLASSES, THRESHOLDS, mode))

    def test_streaming_equals_all_at_once_and_merge(self):
        preds, gts = _random_images(np.random.default_rng(7), 40)
        whole = localization_metrics(preds, gts, CLASSES)
        first, second = LocalizationMetric(CLASSES), LocalizationMetric(CLASSES)
        for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
            (first if i < 17 else second).update(p, g)
        first.merge(second)
        _assert_results_equal(first.compute(), whole)

    def test_seed_authors_protocol(self):
        preds, gts = _random_images(np.random.default_rng(3), 25)
        metric = LocalizationMetric.seed_authors(CLASSES)
        for p, g in zip(preds, gts, strict=True):
            metric.update(p, g)
        assert (metric.mode, metric.thresholds, metric.afp_denominator) == ("iou", (0.1,), 880)
        _assert_results_equal(metric.compute(), _reference(preds, gts, CLASSES, (0.1,), "iou", 880))

    def test_strictly_greater(self):
        metric = LocalizationMetric(["Mass"], thresholds=(0.5,))
        metric.update({"Mass": [[0, 0, 10, 10]]}, {"Mass": [[5, 0, 10, 10]]})  # IoBB exactly 0.5
        assert metric.compute()["Mass"][0.5] == {"accuracy": 0.0, "afp": 1.0}

    def test_several_gt_boxes_one_prediction(self):
        metric = LocalizationMetric(["Nodule"], thresholds=(0.1,))
        metric.update({"Nodule": [[0, 0, 100, 100]]}, {"Nodule": [[10, 10, 5, 5], [80, 80, 5, 5]]})
        # IoBB of the big box with each small one is 25/10000: both missed, prediction is a FP
        assert metric.compute()["Nodule"][0.1] == {"accuracy": 0.0, "afp": 1.0}
        metric.reset()
        metric.update({"Nodule": [[10, 10, 5, 5], [80, 80, 5, 5]]}, {"Nodule": [[0, 0, 100, 100]]})
        assert metric.compute()["Nodule"][0.1] == {"accuracy": 1.0, "afp": 0.0}

    def test_predictions_without_gt_and_gt_without_predictions(self):
        metric = LocalizationMetric(["Mass", "Nodule"], thresholds=(0.1,))
        metric.update({"Mass": [[0, 0, 4, 4], [9, 9, 4, 4]]}, {})
        metric.update({}, {"Nodule": [[0, 0, 4, 4]]})
        result = metric.compute()
        assert result["Mass"][0.1]["afp"] == 1.0  # 2 FPs over 2 images
        assert math.isnan(result["Mass"][0.1]["accuracy"])
        assert result["Nodule"][0.1] == {"accuracy": 0.0, "afp": 0.0}
        assert result["mean"][0.1] == {"accuracy": 0.0, "afp": 0.5}

    def test_no_images(self):
        result = LocalizationMetric(["Mass"]).compute()
        assert math.isnan(result["Mass"][0.1]["accuracy"]) and math.isnan(
            result["Mass"][0.1]["afp"]
        )

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            pytest.param({"classes": []}, "classes", id="no-classes"),
            pytest.param({"classes": ["a", "a"]}, "distinct", id="duplicate"),
            pytest.param({"classes": ["mean"]}, "mean", id="reserved"),
            pytest.param({"classes": ["a"], "thresholds": (1.0,)}, r"thresholds.*1\.0", id="t=1"),
            pytest.param({"classes": ["a"], "mode": "dice"}, "mode.*'dice'", id="mode"),
            pytest.param(
                {"classes": ["a"], "afp_denominator": 0}, "afp_denominator", id="denominator"
            ),
        ],
    )
    def test_bad_config(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            LocalizationMetric(**kwargs)

    def test_bad_updates(self):
        metric = LocalizationMetric(["Mass"])
        with pytest.raises(ValueError, match=r"Unknown class names in `gt_boxes`: \['Masses'\]"):
            metric.update({}, {"Masses": [[0, 0, 1, 1]]})
        with pytest.raises(ValueError, match=r"positive width.*pred_boxes\['Mass'\]"):
            metric.update({"Mass": [[0, 0, 0, 1]]}, {})
        with pytest.raises(TypeError, match="dict of class name"):
            metric.update([[0, 0, 1, 1]], {})
        with pytest.raises(ValueError, match="one prediction dict per GT dict"):
            localization_metrics([{}], [{}, {}], ["Mass"])
        assert metric.images == 0


def test_unvalidated_update_counts_the_same():
    rng = np.random.default_rng(0)
    checked, fast = (LocalizationMetric(["Mass", "Nodule"], validate_args=v) for v in (True, False))
    for _ in range(20):
        pred = {"Mass": rng.uniform(1, 30, size=(rng.integers(0, 4), 4))}
        gt = {"Mass": rng.uniform(1, 30, size=(1, 4)), "Nodule": rng.uniform(1, 30, size=(2, 4))}
        checked.update(pred, gt)
        fast.update(pred, gt)
    assert checked.compute() == fast.compute()
    with pytest.raises(ValueError, match="positive width"):
        checked.update({"Mass": [[0, 0, 0, 5]]}, {})


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("mode", ["iobb", "iou"])
def test_the_hit_rule_against_a_loop(seed, mode):
    from cam_boxes_iobb import matches

    rng = np.random.default_rng(seed)
    pred = np.c_[rng.uniform(0, 50, (5, 2)), rng.uniform(1, 30, (5, 2))]
    gt = np.c_[rng.uniform(0, 50, (4, 2)), rng.uniform(1, 30, (4, 2))]
    thresholds = (0.1, 0.3, 0.5)
    got = matches(pred, gt, thresholds, mode)
    for t_index, t in enumerate(thresholds):
        for n, (px, py, pw, ph) in enumerate(pred):
            for m, (gx, gy, gw, gh) in enumerate(gt):
                inter = max(0, min(px + pw, gx + gw) - max(px, gx)) * max(
                    0, min(py + ph, gy + gh) - max(py, gy)
                )
                area = pw * ph if mode == "iobb" else pw * ph + gw * gh - inter
                assert got[t_index, n, m] == (inter / area > t)


def test_the_hit_rule_edges():
    from cam_boxes_iobb import HIT_THRESHOLD, matches

    assert HIT_THRESHOLD == 0.1
    assert matches(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (1, 0, 1)
    # IoBB exactly 0.1 is not a hit (strictly greater), a hair more is
    assert not matches([[0, 0, 10, 10]], [[9, 0, 10, 10]])[0, 0, 0]
    assert matches([[0, 0, 10, 10]], [[8.99, 0, 10, 10]])[0, 0, 0]
    with pytest.raises(ValueError, match="mode"):
        matches([[0, 0, 1, 1]], [[0, 0, 1, 1]], mode="dice")
