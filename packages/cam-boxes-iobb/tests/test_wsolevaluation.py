"""``MaxBoxAcc(convention="wsolevaluation")`` against clovaai/wsolevaluation, transcribed.

The functions below restate ``inference.py`` (``normalize_scoremap``, lines 38-51, and the cubic
resize of lines 86-88) and ``evaluation.py`` (``calculate_multiple_iou`` lines 45-92,
``compute_bboxes_from_scoremaps`` lines 117-168, ``BoxEvaluator.accumulate`` and ``compute``
lines 243-292) without their metadata loading; the metric must count the same correct boxes at
every score-map threshold and IoU threshold, on random CAMs and boxes.
"""

import cv2
import numpy as np
import pytest

from cam_boxes_iobb import MaxBoxAcc

_CONTOUR_INDEX = 1 if cv2.__version__.split(".")[0] == "3" else 0


def normalize_scoremap(cam):  # inference.py, lines 38-51
    if np.isnan(cam).any():
        return np.zeros_like(cam)
    if cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def calculate_multiple_iou(box_a, box_b):  # evaluation.py, lines 45-92
    num_a = box_a.shape[0]
    num_b = box_b.shape[0]
    box_a = np.tile(box_a, num_b)
    box_a = np.expand_dims(box_a, axis=1).reshape((num_a, num_b, -1))
    box_b = np.tile(box_b, num_a)
    box_b = np.expand_dims(box_b, axis=1).reshape((num_b, num_a, -1))
    box_b = np.transpose(box_b, (1, 0, 2))
    min_x = np.maximum(box_a[:, :, 0], box_b[:, :, 0])
    min_y = np.maximum(box_a[:, :, 1], box_b[:, :, 1])
    max_x = np.minimum(box_a[:, :, 2], box_b[:, :, 2])
    max_y = np.minimum(box_a[:, :, 3], box_b[:, :, 3])
    area_intersect = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = (box_a[:, :, 2] - box_a[:, :, 0] + 1) * (box_a[:, :, 3] - box_a[:, :, 1] + 1)
    area_b = (box_b[:, :, 2] - box_b[:, :, 0] + 1) * (box_b[:, :, 3] - box_b[:, :, 1] + 1)
    denominator = area_a + area_b - area_intersect
    degenerate_indices = np.where(denominator <= 0)
    denominator[degenerate_indices] = 1
    ious = area_intersect / denominator
    ious[degenerate_indices] = 0
    return ious


def compute_bboxes_from_scoremaps(scoremap, scoremap_threshold_list, multi_contour_eval=False):
    # evaluation.py, lines 117-168
    height, width = scoremap.shape
    scoremap_image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)

    def scoremap2bbox(threshold):
        _, thr_gray_heatmap = cv2.threshold(
            src=scoremap_image,
            thresh=int(threshold * np.max(scoremap_image)),
            maxval=255,
            type=cv2.THRESH_BINARY,
        )
        contours = cv2.findContours(
            image=thr_gray_heatmap, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE
        )[_CONTOUR_INDEX]
        if len(contours) == 0:
            return np.asarray([[0, 0, 0, 0]]), 1
        if not multi_contour_eval:
            contours = [max(contours, key=cv2.contourArea)]
        estimated_boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            x0, y0, x1, y1 = x, y, x + w, y + h
            x1 = min(x1, width - 1)
            y1 = min(y1, height - 1)
            estimated_boxes.append([x0, y0, x1, y1])
        return np.asarray(estimated_boxes), len(contours)

    estimated_boxes_at_each_thr = []
    number_of_box_list = []
    for threshold in scoremap_threshold_list:
        boxes, number_of_box = scoremap2bbox(threshold)
        estimated_boxes_at_each_thr.append(boxes)
        number_of_box_list.append(number_of_box)
    return estimated_boxes_at_each_thr, number_of_box_list


class BoxEvaluator:  # evaluation.py, lines 218-292, with the boxes handed in
    def __init__(self, cam_threshold_list, iou_threshold_list, multi_contour_eval):
        self.cam_threshold_list = cam_threshold_list
        self.iou_threshold_list = iou_threshold_list
        self.multi_contour_eval = multi_contour_eval
        self.cnt = 0
        self.num_correct = {
            iou_threshold: np.zeros(len(self.cam_threshold_list))
            for iou_threshold in self.iou_threshold_list
        }

    def accumulate(self, scoremap, gt_bboxes):
        boxes_at_thresholds, number_of_box_list = compute_bboxes_from_scoremaps(
            scoremap=scoremap,
            scoremap_threshold_list=self.cam_threshold_list,
            multi_contour_eval=self.multi_contour_eval,
        )
        boxes_at_thresholds = np.concatenate(boxes_at_thresholds, axis=0)
        multiple_iou = calculate_multiple_iou(np.array(boxes_at_thresholds), np.array(gt_bboxes))
        idx = 0
        sliced_multiple_iou = []
        for nr_box in number_of_box_list:
            sliced_multiple_iou.append(max(multiple_iou.max(1)[idx : idx + nr_box]))
            idx += nr_box
        for _THRESHOLD in self.iou_threshold_list:
            correct_threshold_indices = np.where(
                np.asarray(sliced_multiple_iou) >= (_THRESHOLD / 100)
            )[0]
            self.num_correct[_THRESHOLD][correct_threshold_indices] += 1
        self.cnt += 1

    def compute(self):
        max_box_acc = []
        for _THRESHOLD in self.iou_threshold_list:
            localization_accuracies = self.num_correct[_THRESHOLD] * 100.0 / float(self.cnt)
            max_box_acc.append(localization_accuracies.max())
        return max_box_acc


def _random_case(rng, size):
    h, w = size
    cam = rng.standard_normal((int(rng.integers(4, 9)), int(rng.integers(4, 9)))).astype(np.float32)
    cam[rng.integers(cam.shape[0]), rng.integers(cam.shape[1])] += 3.0  # a clear peak
    boxes = []
    for _ in range(int(rng.integers(1, 3))):
        x0, y0 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        boxes.append([x0, y0, x0 + int(rng.integers(4, w - x0)), y0 + int(rng.integers(4, h - y0))])
    return cam, np.array(boxes)


@pytest.mark.parametrize("multi_contour", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_counts_equal_wsolevaluation_at_every_threshold(seed, multi_contour):
    rng = np.random.default_rng(seed)
    size = (48, 40)  # (height, width)
    thresholds = list(np.arange(0, 1, 0.01))
    reference = BoxEvaluator(thresholds, [30, 50, 70], multi_contour)
    metric = MaxBoxAcc(
        ["x"],
        thresholds,
        iou_thresholds=(0.3, 0.5, 0.7),
        largest_only=not multi_contour,
        convention="wsolevaluation",
    )
    for _ in range(12):
        cam, gt = _random_case(rng, size)
        resized = cv2.resize(cam.copy(), (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
        reference.accumulate(normalize_scoremap(resized), gt)
        xywh = np.column_stack([gt[:, :2], gt[:, 2:] - gt[:, :2]])
        metric.update({"x": cam}, {"x": xywh}, size=size)
    for j, percent in enumerate((30, 50, 70)):
        np.testing.assert_array_equal(metric.correct[0, :, j], reference.num_correct[percent])
    expected = np.mean(reference.compute()) / 100
    assert metric.compute()["x"]["max_box_acc"] == pytest.approx(expected)


def test_the_conventions_differ_by_the_plus_one_pixel():
    # a 10 x 10 GT box and a map whose box is the same box shifted 5 px: exact IoU 1/3,
    # wsolevaluation's (+1 per side, box clipped to width - 1) 0.375 at the best threshold
    cam = np.zeros((40, 40), np.float32)
    cam[10:20, 15:25] = 1.0
    gt = {"x": [[10, 10, 10, 10]]}
    exact = MaxBoxAcc(["x"], (0.5,), iou_thresholds=(0.34,))
    wsol = MaxBoxAcc(["x"], (0.5,), iou_thresholds=(0.34,), convention="wsolevaluation")
    exact.update({"x": cam}, gt)
    wsol.update({"x": cam}, gt)
    assert exact.compute()["x"]["max_box_acc"] == 0.0  # 1/3 < 0.34
    assert wsol.compute()["x"]["max_box_acc"] == 1.0  # 0.375 >= 0.34
