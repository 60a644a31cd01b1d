import math

import numpy as np
import pytest

from cam_boxes_iobb import (
    LocalizationMetric,
    MaxBoxAcc,
    PointingGame,
    ThresholdCurve,
    heatmap_to_boxes,
    threshold_grid,
)

CLASSES = ["Mass", "Nodule", "Effusion"]


def _components(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """8-connected components by flood fill (an independent stand-in for OpenCV's contours)."""
    seen = np.zeros_like(mask, dtype=bool)
    parts = []
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        stack, part = [start], []
        seen[start] = True
        while stack:
            r, c = stack.pop()
            part.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    inside = 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1]
                    if inside and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        parts.append(part)
    return parts


def _box(part) -> tuple[float, float, float, float]:
    rows, cols = [p[0] for p in part], [p[1] for p in part]
    return (min(cols), min(rows), max(cols) - min(cols) + 1, max(rows) - min(rows) + 1)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _reference_max_box_acc(samples, thresholds, deltas, largest_only):
    """Per class: max over tau of the share of pairs with IoU >= delta, averaged over delta."""
    out = {}
    for name in CLASSES:
        pairs = [(h[name], g[name]) for h, g in samples if name in g]
        if not pairs:
            continue
        per_delta = []
        for delta in deltas:
            accs = []
            for tau in thresholds:
                correct = 0
                for heatmap, gt in pairs:
                    parts = _components(heatmap >= tau)
                    if largest_only and parts:
                        parts = [max(parts, key=len)]
                    best = max((_iou(_box(p), g) for p in parts for g in gt), default=0.0)
                    correct += best >= delta
                accs.append(correct / len(pairs))
            per_delta.append(max(accs))
        out[name] = float(np.mean(per_delta))
    return out


def _squares_heatmap(rng, side=14):
    """Disjoint squares of distinct sizes and levels: largest contour == largest component."""
    heatmap = np.zeros((side, side), np.float32)
    sizes = rng.permutation([2, 3, 4])[: rng.integers(1, 4)]
    for i, size in enumerate(sizes):
        r, c = (i // 2) * 7 + 1, (i % 2) * 7 + 1
        heatmap[r : r + size, c : c + size] = rng.uniform(0.2, 1.0)
    return heatmap / max(heatmap.max(), 1e-6)


def _smooth_heatmap(rng, side=12):
    coarse = rng.random((4, 4))
    heatmap = np.kron(coarse, np.ones((3, 3)))[:side, :side].astype(np.float32)
    return heatmap / heatmap.max()


def _samples(rng, maker, n=6):
    samples = []
    for _ in range(n):
        present = [c for c in CLASSES if rng.random() < 0.6] or ["Mass"]
        gt = {}
        for name in present:
            gt[name] = [
                (
                    float(rng.integers(0, 8)),
                    float(rng.integers(0, 8)),
                    float(rng.integers(2, 5)),
                    float(rng.integers(2, 5)),
                )
                for _ in range(rng.integers(1, 3))
            ]
        samples.append(({c: maker(rng) for c in CLASSES}, gt))
    return samples


class TestMaxBoxAcc:
    @pytest.mark.parametrize("seed", range(5))
    def test_v2_against_flood_fill_reference(self, seed):
        rng = np.random.default_rng(seed)
        samples = _samples(rng, _smooth_heatmap)
        grid = threshold_grid(0.1)
        metric = MaxBoxAcc.v2(CLASSES, grid, normalization="none")
        for heatmaps, gt in samples:
            metric.update(heatmaps, gt)
        expected = _reference_max_box_acc(samples, grid, (0.3, 0.5, 0.7), largest_only=False)
        result = metric.compute()
        for name, value in expected.items():
            assert result[name]["max_box_acc"] == pytest.approx(value), name

    @pytest.mark.parametrize("seed", range(5))
    def test_v1_against_flood_fill_reference(self, seed):
        rng = np.random.default_rng(seed)
        samples = _samples(rng, _squares_heatmap)
        grid = threshold_grid(0.1)
        metric = MaxBoxAcc(CLASSES, grid, normalization="none")
        for heatmaps, gt in samples:
            metric.update(heatmaps, gt)
        expected = _reference_max_box_acc(samples, grid, (0.5,), largest_only=True)
        for name, value in expected.items():
            assert metric.compute()[name]["max_box_acc"] == pytest.approx(value), name

    def test_streaming_merge_equals_one_pass(self):
        rng = np.random.default_rng(0)
        samples = _samples(rng, _smooth_heatmap, n=8)
        whole, a, b = (MaxBoxAcc.v2(CLASSES, threshold_grid(0.2)) for _ in range(3))
        for i, (heatmaps, gt) in enumerate(samples):
            whole.update(heatmaps, gt)
            (a if i % 2 else b).update(heatmaps, gt)
        a.merge(b)
        assert a.compute() == whole.compute()

    def test_mean_uses_one_shared_threshold(self):
        low, high = np.zeros((10, 10)), np.zeros((10, 10))
        low[2:6, 2:6], low[0:10, 6:10] = 1.0, 0.3  # exact box only above 0.3
        high[2:6, 2:6], high[8:10, 8:10] = 0.3, 1.0  # exact box only below 0.3
        metric = MaxBoxAcc(["Mass", "Nodule"], thresholds=(0.2, 0.5))
        metric.update(
            {"Mass": low, "Nodule": high}, {"Mass": [[2, 2, 4, 4]], "Nodule": [[2, 2, 4, 4]]}
        )
        result = metric.compute()
        assert result["Mass"]["max_box_acc"] == result["Nodule"]["max_box_acc"] == 1.0
        assert result["Mass"]["optimal_threshold"] == {0.5: 0.5}
        assert result["Nodule"]["optimal_threshold"] == {0.5: 0.2}
        assert result["mean"]["max_box_acc"] == 0.5  # no single threshold serves both

    def test_edge_cases(self):
        metric = MaxBoxAcc(["Mass"], thresholds=(0.0, 0.5))
        metric.update({"Mass": np.zeros((8, 8))}, {"Mass": [[0, 0, 8, 8]]})  # empty map
        # tau = 0 keeps every pixel: the whole map is one box, equal to the GT box
        assert metric.compute()["Mass"] == {
            "max_box_acc": 1.0,
            "optimal_threshold": {0.5: 0.0},
            "pairs": 1,
        }
        untouched = MaxBoxAcc(["Mass", "Nodule"], normalization="none")
        assert math.isnan(untouched.compute()["mean"]["max_box_acc"])
        with pytest.raises(ValueError, match="lacks 'Mass'"):
            untouched.update({}, {"Mass": [[0, 0, 2, 2]]})
        with pytest.raises(ValueError, match=r"in \[0, 1\]"):
            untouched.update({"Mass": np.full((4, 4), 2.0)}, {"Mass": [[0, 0, 2, 2]]})
        with pytest.raises(ValueError, match="Unknown class"):
            untouched.update({}, {"Hernia": [[0, 0, 2, 2]]})
        with pytest.raises(ValueError, match="iou_thresholds"):
            MaxBoxAcc(["Mass"], iou_thresholds=(0.0,))
        with pytest.raises(ValueError, match="normalization"):
            MaxBoxAcc(["Mass"], normalization="l2")
        with pytest.raises(ValueError, match="convention"):
            MaxBoxAcc(["Mass"], convention="voc")
        with pytest.raises(ValueError, match="finite"):
            MaxBoxAcc(["Mass"]).update({"Mass": np.full((4, 4), np.nan)}, {"Mass": [[0, 0, 2, 2]]})

    def test_minmax_is_the_default_and_changes_maps_with_a_floor(self):
        # a map with a floor of 0.5: min-max stretches it, the max normalisation keeps the floor
        heatmap = np.full((10, 10), 0.5)
        heatmap[2:6, 2:6] = 1.0
        gt = {"Mass": [[2, 2, 4, 4]]}
        grid = (0.0, 0.3, 0.6, 0.9)
        default, paper = MaxBoxAcc(["Mass"], grid), MaxBoxAcc(["Mass"], grid, normalization="max")
        default.update({"Mass": heatmap}, gt)
        paper.update({"Mass": heatmap}, gt)
        assert default.compute()["Mass"]["optimal_threshold"] == {0.5: 0.3}
        assert paper.compute()["Mass"]["optimal_threshold"] == {0.5: 0.6}
        # below the floor every pixel is kept: min-max reaches the exact box from 0.3, max not
        curves = default.curves()[0, :, 0], paper.curves()[0, :, 0]
        assert curves[0].tolist() == [0.0, 1.0, 1.0, 1.0]
        assert curves[1].tolist() == [0.0, 0.0, 1.0, 1.0]

    def test_maps_are_resized_to_the_image(self):
        cam = np.zeros((4, 4))
        cam[1, 1] = 1.0  # one CAM cell of an image 8 times larger
        metric = MaxBoxAcc(["Mass"], (0.5,), normalization="max", interpolation="nearest")
        metric.update({"Mass": cam}, {"Mass": [[8, 8, 8, 8]]}, size=(32, 32))
        assert metric.compute()["Mass"]["max_box_acc"] == 1.0


class TestPointingGame:
    @pytest.mark.parametrize("seed", range(5))
    def test_against_pixel_loop(self, seed):
        rng = np.random.default_rng(seed)
        samples = _samples(rng, _smooth_heatmap)
        metric = PointingGame(CLASSES, tolerance=2.0)
        for heatmaps, gt in samples:
            metric.update(heatmaps, gt)
        for name in CLASSES:
            pairs = [(h[name], g[name]) for h, g in samples if name in g]
            hits = 0
            for heatmap, gt in pairs:
                best, peak = -1.0, None
                for r in range(heatmap.shape[0]):  # first maximum in row-major order
                    for c in range(heatmap.shape[1]):
                        if heatmap[r, c] > best:
                            best, peak = heatmap[r, c], (c + 0.5, r + 0.5)
                hits += any(
                    math.dist(peak, (min(max(peak[0], x), x + w), min(max(peak[1], y), y + h)))
                    <= 2.0
                    for x, y, w, h in gt
                )
            expected = hits / len(pairs) if pairs else math.nan
            got = metric.compute()[name]["accuracy"]
            assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)

    def test_tolerance_and_empty_map(self):
        heatmap = np.zeros((40, 40))
        heatmap[5, 30] = 1.0  # centre (30.5, 5.5): 10.5 px right of the box edge at x = 20
        for tolerance, hit in ((10.0, 0.0), (11.0, 1.0)):
            metric = PointingGame(["Mass"], tolerance)
            metric.update({"Mass": heatmap}, {"Mass": [[10, 0, 10, 10]]})
            assert metric.compute()["Mass"]["accuracy"] == hit
        empty = PointingGame(["Mass"], tolerance=100)
        empty.update({"Mass": np.zeros((4, 4))}, {"Mass": [[0, 0, 4, 4]]})
        assert empty.compute()["Mass"]["accuracy"] == 0.0  # no positive value: a miss
        with pytest.raises(ValueError, match="tolerance"):
            PointingGame(["Mass"], tolerance=-1)

    def test_tolerance_is_in_the_original_images_pixels(self):
        # a 16 x 16 map of a 1024 x 1024 image: the peak cell (2, 12) is 128 px wide there
        cam = np.zeros((16, 16))
        cam[2, 12] = 1.0
        box = [[600, 100, 100, 100]]  # 1024-frame pixels, left of the peak's cell
        near = PointingGame(["Mass"], tolerance=15, interpolation="nearest")
        near.update({"Mass": cam}, {"Mass": box}, size=(1024, 1024))
        # the peak after the resize: the first pixel of the cell, (768.5, 128.5): 68.5 px away
        assert near.compute()["Mass"]["accuracy"] == 0.0
        far = PointingGame(["Mass"], tolerance=70, interpolation="nearest")
        far.update({"Mass": cam}, {"Mass": box}, size=(1024, 1024))
        assert far.compute()["Mass"]["accuracy"] == 1.0


class TestThresholdCurve:
    def test_equals_the_fixed_protocol_at_each_threshold(self):
        rng = np.random.default_rng(3)
        samples = _samples(rng, _smooth_heatmap, n=10)
        curve = ThresholdCurve(CLASSES, thresholds=(0.3, 0.7))
        fixed = {t: LocalizationMetric(CLASSES, (0.1,)) for t in (0.3, 0.7)}
        for heatmaps, gt in samples:
            predicted = {c: h for c, h in heatmaps.items() if c in gt or rng.random() < 0.3}
            curve.update(predicted, gt)
            for t, metric in fixed.items():
                metric.update({c: heatmap_to_boxes(h, t) for c, h in predicted.items()}, gt)
        result = curve.compute()
        for i, t in enumerate((0.3, 0.7)):
            expected = fixed[t].compute()
            for name in [*CLASSES, "mean"]:
                got, want = result["accuracy"][name][i], expected[name][0.1]["accuracy"]
                assert (math.isnan(got) and math.isnan(want)) or got == want
                assert result["afp"][name][i] == expected[name][0.1]["afp"]

    def test_best_threshold_breaks_ties_by_false_positives(self):
        heatmap = np.zeros((10, 10))
        heatmap[2:6, 2:6], heatmap[0:2, 8:10] = 1.0, 0.5
        curve = ThresholdCurve(["Mass"], thresholds=(0.3, 0.7, 0.9))
        curve.update({"Mass": heatmap}, {"Mass": [[2, 2, 4, 4]]})
        assert curve.best_threshold() == 0.7
        assert ThresholdCurve(["Mass"]).best_threshold() == 0.5  # nothing scored: mid-grid
