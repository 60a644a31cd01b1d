import cv2
import numpy as np
import pytest

from cam_boxes_iobb import heatmap_to_boxes, heatmaps_to_boxes, normalize_heatmap


class TestNormalizeHeatmap:
    def test_relu_and_max(self):
        cam = np.array([[-2.0, 1.0], [0.5, 2.0]])
        np.testing.assert_allclose(normalize_heatmap(cam), [[0, 0.5], [0.25, 1.0]])

    def test_all_zero_and_all_negative_stay_zero(self):
        assert not normalize_heatmap(np.zeros((3, 3))).any()
        assert not normalize_heatmap(-np.ones((3, 3))).any()

    def test_resize_is_bilinear_half_pixel(self):
        torch = pytest.importorskip("torch")
        cam = np.random.default_rng(0).random((8, 8)).astype(np.float32)
        ours = normalize_heatmap(cam, size=(64, 48))
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(cam)[None, None], size=(64, 48), mode="bilinear", align_corners=False
        )[0, 0].numpy()
        np.testing.assert_allclose(ours, ref / ref.max(), atol=1e-3)

    def test_each_map_normalised_separately(self):
        cams = np.stack([np.full((4, 4), 2.0), np.full((4, 4), 8.0), np.zeros((4, 4))])
        out = normalize_heatmap(cams[None], size=8)
        assert out.shape == (1, 3, 8, 8)
        np.testing.assert_allclose(out[0, :2], 1.0)
        assert not out[0, 2].any()

    def test_accepts_torch(self):
        torch = pytest.importorskip("torch")
        out = normalize_heatmap(torch.tensor([[1.0, 2.0]], dtype=torch.bfloat16))
        np.testing.assert_allclose(out, [[0.5, 1.0]])

    @pytest.mark.parametrize(
        ("cam", "size", "match"),
        [
            pytest.param(np.zeros(4), None, r"\(\.\.\., h, w\).*\(4,\)", id="1d"),
            pytest.param(np.full((2, 2), np.nan), None, r"finite.*4 NaN", id="nan"),
            pytest.param(np.array([[np.inf, 0]]), None, r"finite", id="inf"),
            pytest.param(np.zeros((2, 2)), (0, 4), r"`size`", id="zero-size"),
            pytest.param(np.zeros((2, 2)), (2, 3, 4), r"`size`", id="bad-size"),
        ],
    )
    def test_exception(self, cam, size, match):
        with pytest.raises(ValueError, match=match):
            normalize_heatmap(cam, size=size)


def _reference_boxes(mask):
    """Bounding boxes of 8-connected components, by flood fill (independent of OpenCV)."""
    seen = np.zeros_like(mask, dtype=bool)
    boxes = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        stack, ys, xs = [(y0, x0)], [], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            ys.append(y)
            xs.append(x)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if (
                        0 <= ny < mask.shape[0]
                        and 0 <= nx < mask.shape[1]
                        and mask[ny, nx]
                        and not seen[ny, nx]
                    ):
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        boxes.append((min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1))
    return sorted(boxes, key=lambda b: (b[1], b[0]))


class TestHeatmapToBoxes:
    def test_drawn_boxes_come_back_exactly(self):
        heatmap = np.zeros((100, 120))
        drawn = [(5, 7, 20, 10), (60, 50, 1, 1), (90, 80, 30, 20), (30, 90, 40, 10)]
        for x, y, w, h in drawn:
            heatmap[y : y + h, x : x + w] = 0.9
        boxes = heatmap_to_boxes(heatmap, threshold=0.7)
        assert sorted(map(tuple, boxes.astype(int).tolist())) == sorted(drawn)

    def test_threshold_is_inclusive(self):
        heatmap = np.zeros((10, 10))
        heatmap[2:4, 2:4] = 0.7
        assert len(heatmap_to_boxes(heatmap, 0.7)) == 1
        assert len(heatmap_to_boxes(heatmap, 0.71)) == 0

    def test_only_external_contours(self):
        heatmap = np.zeros((20, 20))
        heatmap[2:18, 2:18] = 1.0
        heatmap[6:14, 6:14] = 0.0
        heatmap[9:11, 9:11] = 1.0  # an island inside the hole lies within the external contour
        boxes = heatmap_to_boxes(heatmap)
        assert boxes.tolist() == [[2, 2, 16, 16]]

    @pytest.mark.parametrize("seed", range(5))
    def test_against_flood_fill(self, seed):
        rng = np.random.default_rng(seed)
        heatmap = cv2.GaussianBlur(rng.random((48, 48)).astype(np.float32), (0, 0), 2.0)
        heatmap = normalize_heatmap(heatmap)
        ours = [tuple(b) for b in heatmap_to_boxes(heatmap, 0.7).astype(int).tolist()]
        assert ours == _reference_boxes(heatmap >= 0.7)

    def test_empty(self):
        assert heatmap_to_boxes(np.zeros((8, 8))).shape == (0, 4)

    def test_batched(self):
        maps = np.zeros((2, 3, 16, 16))
        maps[0, 1, 2:5, 3:9] = 1.0
        boxes = heatmaps_to_boxes(maps)
        assert len(boxes) == 2 and all(len(b) == 3 for b in boxes)
        assert boxes[0][1].tolist() == [[3, 2, 6, 3]]
        assert sum(len(k) for b in boxes for k in b) == 1

    @pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01, float("nan")])
    def test_bad_threshold(self, threshold):
        with pytest.raises(ValueError, match="threshold"):
            heatmap_to_boxes(np.zeros((4, 4)), threshold)

    @pytest.mark.parametrize(
        ("heatmap", "match"),
        [
            pytest.param(np.zeros((2, 4, 4)), r"\(H, W\).*\(2, 4, 4\)", id="3d"),
            pytest.param(np.full((4, 4), np.nan), r"finite", id="nan"),
        ],
    )
    def test_exception(self, heatmap, match):
        with pytest.raises(ValueError, match=match):
            heatmap_to_boxes(heatmap)

    def test_batched_wrong_ndim(self):
        with pytest.raises(ValueError, match=r"\(B, K, H, W\)"):
            heatmaps_to_boxes(np.zeros((3, 4, 4)))


def test_one_contour_rule_for_fixed_and_threshold_free_boxes():
    from cam_boxes_iobb import boxes_at, contour_boxes, heatmap_to_boxes

    rng = np.random.default_rng(0)
    for _ in range(20):
        heatmap = (rng.random((24, 24)) > 0.7) * rng.random((24, 24))
        fixed = heatmap_to_boxes(heatmap, 0.5)
        free = boxes_at(heatmap.astype(np.float32), 0.5)
        key = lambda b: sorted(map(tuple, b.tolist()))  # noqa: E731
        assert key(fixed) == key(free) == key(contour_boxes(heatmap >= 0.5))
    ring = np.zeros((9, 9), bool)
    ring[1:8, 1:8] = True
    ring[3:6, 3:6] = False  # a hole belongs to its region (external contours only)
    assert contour_boxes(ring).tolist() == [[1.0, 1.0, 7.0, 7.0]]
