import numpy as np
import pytest

from cam_boxes_iobb import check_boxes, iobb, iou


def _random_integer_boxes(rng, n, extent=40):
    xy = rng.integers(0, extent, size=(n, 2))
    wh = rng.integers(1, extent // 2, size=(n, 2))
    return np.concatenate([xy, wh], axis=1).astype(np.float64)


def _raster(box, extent=80):
    """Pixel mask of an integer xywh box: pixel (i, j) covers [i, i+1) x [j, j+1)."""
    mask = np.zeros((extent, extent), dtype=bool)
    x, y, w, h = (int(v) for v in box)
    mask[y : y + h, x : x + w] = True
    return mask


def _reference_pixel_counts(pred, gt):
    out_iobb = np.zeros((len(pred), len(gt)))
    out_iou = np.zeros_like(out_iobb)
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            mp, mg = _raster(p), _raster(g)
            inter = (mp & mg).sum()
            out_iobb[i, j] = inter / mp.sum()
            out_iou[i, j] = inter / (mp | mg).sum()
    return out_iobb, out_iou


class TestOverlaps:
    @pytest.mark.parametrize("seed", range(6))
    def test_against_pixel_counting(self, seed):
        rng = np.random.default_rng(seed)
        pred = _random_integer_boxes(rng, int(rng.integers(1, 9)))
        gt = _random_integer_boxes(rng, int(rng.integers(1, 9)))
        ref_iobb, ref_iou = _reference_pixel_counts(pred, gt)
        np.testing.assert_allclose(iobb(pred, gt), ref_iobb)
        np.testing.assert_allclose(iou(pred, gt), ref_iou)

    @pytest.mark.parametrize(
        ("pred", "gt", "expected_iobb", "expected_iou"),
        [
            pytest.param([0, 0, 10, 10], [5, 0, 10, 10], 0.5, 50 / 150, id="half-overlap"),
            pytest.param([2, 2, 4, 4], [0, 0, 10, 10], 1.0, 16 / 100, id="pred-inside-gt"),
            pytest.param([0, 0, 10, 10], [2, 2, 4, 4], 0.16, 0.16, id="gt-inside-pred"),
            pytest.param([0, 0, 5, 5], [5, 5, 5, 5], 0.0, 0.0, id="touching-corner"),
            pytest.param([0, 0, 5, 5], [20, 20, 5, 5], 0.0, 0.0, id="disjoint"),
            pytest.param([0, 0, 1.5, 2], [0.5, 0, 2, 2], 2 / 3, 2 / 5, id="fractional"),
            pytest.param([3, 3, 7, 7], [3, 3, 7, 7], 1.0, 1.0, id="identical"),
        ],
    )
    def test_hand_worked(self, pred, gt, expected_iobb, expected_iou):
        assert iobb([pred], [gt])[0, 0] == pytest.approx(expected_iobb)
        assert iou([pred], [gt])[0, 0] == pytest.approx(expected_iou)

    def test_cardinality_and_empty(self):
        assert iobb(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
        assert iou([[0, 0, 1, 1]] * 3, []).shape == (3, 0)

    def test_accepts_torch_tensors(self):
        torch = pytest.importorskip("torch")
        result = iobb(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[5, 0, 10, 10]]))
        assert result.tolist() == [[0.5]]

    @pytest.mark.parametrize(
        ("boxes", "match"),
        [
            pytest.param([[0, 0, 0, 5]], r"positive width and height.*row 0", id="zero-width"),
            pytest.param([[0, 0, 5, 5], [1, 1, 2, -3]], r"row 1", id="negative-height"),
            pytest.param([[-1, 0, 5, 5]], r"x, y >= 0", id="negative-x"),
            pytest.param([[0, 0, np.nan, 5]], r"finite", id="nan"),
            pytest.param([[0, 0, 5]], r"\(N, 4\).*\(1, 3\)", id="three-columns"),
            pytest.param([0, 0, 5, 5], r"\(N, 4\).*\(4,\)", id="one-dim"),
        ],
    )
    def test_exception(self, boxes, match):
        with pytest.raises(ValueError, match=match):
            check_boxes(boxes, "pred")
        with pytest.raises(ValueError, match=match):
            iobb(boxes, [[0, 0, 1, 1]])

    def test_not_numbers(self):
        with pytest.raises(TypeError, match="`pred`.*numbers"):
            check_boxes([["a", "b", "c", "d"]], "pred")
