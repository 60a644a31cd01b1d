import numpy as np
import pytest

from cam_boxes_iobb import overlay


class TestOverlay:
    def test_box_edges_and_colours(self):
        image = np.full((50, 60), 80, dtype=np.uint8)
        out = overlay(image, gt_boxes=[[10, 5, 20, 10]], pred_boxes=[[40, 30, 5, 5]])
        green, red = [0, 255, 0], [255, 0, 0]
        for y, x in [(5, 10), (5, 29), (14, 10), (14, 29), (9, 10), (9, 29)]:
            assert out[y, x].tolist() == green
        assert out[9, 20].tolist() == [80, 80, 80]  # inside the box: untouched
        assert out[4, 10].tolist() == [80, 80, 80] and out[15, 10].tolist() == [80, 80, 80]
        for y, x in [(30, 40), (34, 44)]:
            assert out[y, x].tolist() == red

    def test_heatmap_colours_hot_red_cold_blue_and_keeps_polarity(self):
        image = np.zeros((64, 64), dtype=np.uint8)
        image[:, 32:] = 255
        heatmap = np.zeros((8, 8))
        heatmap[0:2, 0:2] = 1.0
        out = overlay(image, heatmap, alpha=0.5).astype(int)
        hot, cold = out[2, 2], out[60, 10]
        assert hot[0] > hot[2]  # red dominates where activation is high
        assert cold[2] > cold[0]  # blue where it is zero
        assert out[60, 60].sum() > out[60, 10].sum()  # bright X-ray stays brighter

    @pytest.mark.parametrize(
        "image",
        [
            pytest.param(np.zeros((40, 30), dtype=np.uint8), id="gray"),
            pytest.param(np.zeros((40, 30, 1), dtype=np.uint8), id="gray-channel"),
            pytest.param(np.zeros((40, 30, 3), dtype=np.uint8), id="rgb"),
            pytest.param(np.zeros((40, 30), dtype=np.float32), id="float"),
        ],
    )
    def test_any_input_kind(self, image):
        out = overlay(image, np.ones((5, 7)))
        assert out.shape == (40, 30, 3) and out.dtype == np.uint8

    def test_float_image_scaled(self):
        out = overlay(np.full((4, 4), 1.0, dtype=np.float32))
        assert out[0, 0].tolist() == [255, 255, 255]

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            pytest.param({"image": np.zeros((4, 4, 2))}, r"\(H, W\)", id="two-channels"),
            pytest.param(
                {"image": np.zeros((4, 4)), "heatmap": np.zeros((2, 3, 3))},
                r"heatmap",
                id="heatmap-3d",
            ),
            pytest.param({"image": np.zeros((4, 4)), "alpha": 2.0}, r"alpha", id="alpha"),
            pytest.param(
                {"image": np.zeros((4, 4)), "gt_boxes": [[0, 0, -1, 2]]}, r"gt_boxes", id="box"
            ),
        ],
    )
    def test_exception(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            overlay(**kwargs)
