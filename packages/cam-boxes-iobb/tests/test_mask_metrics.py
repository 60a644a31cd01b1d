"""Mask metrics against transcriptions of their sources' code, on random maps and masks.

The ``_chexlocalize_*`` functions transcribe rajpurkarlab/cheXlocalize (``heatmap_to_segmentation.py``
``cam_to_segmentation`` lines 29-81 and ``pkl_to_mask``'s resize, lines 84-110; ``eval.py``
``calculate_iou`` lines 16-41, ``get_ious`` lines 44-102, ``get_hitrates`` lines 177-228 and
``get_map`` lines 168-174; at commit 2a79492 — an older ``get_ious`` returned NaN whenever the
GT mask was empty), and
``_WsolMaskEvaluator`` clovaai/wsolevaluation's ``evaluation.py`` ``MaskEvaluator`` (lines
339-416), statement by statement: torch's ``interpolate``, PIL's polygon fill, numpy's
``histogram``, as they use them. Only file I/O and pickles are left out.
"""

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from cam_boxes_iobb.mask_metrics import (
    MaskMetrics,
    average_precision,
    chexlocalize_segmentation,
    mask_iou,
    resize_bilinear,
)
from cam_boxes_iobb.scoremap import scoremap
from cam_boxes_iobb.threshold_free import threshold_grid


def _chexlocalize_resize(saliency, img_dims):  # get_map / pkl_to_mask: img_dims = (w, h)
    saliency_map = torch.from_numpy(np.asarray(saliency, np.float32))[None, None]
    return F.interpolate(
        saliency_map, size=(img_dims[1], img_dims[0]), mode="bilinear", align_corners=False
    )


def _chexlocalize_cam_to_segmentation(cam_mask, threshold=np.nan):
    if len(cam_mask.size()) > 2:
        cam_mask = cam_mask.squeeze()
    mask = cam_mask - cam_mask.min()
    mask = mask.div(mask.max()).data
    mask = mask.cpu().detach().numpy()
    if np.isnan(threshold):
        mask = np.uint8(255 * mask)
        maxval = np.max(mask)
        thresh = cv2.threshold(mask, 0, maxval, cv2.THRESH_OTSU)[1]
        cnts = cv2.findContours(thresh, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        cnts = cnts[0] if len(cnts) == 2 else cnts[1]
        polygons = []
        for cnt in cnts:
            if len(cnt) > 1:
                polygons.append([list(pt[0]) for pt in cnt])
        img_dims = (mask.shape[1], mask.shape[0])
        segmentation_output = Image.new("1", img_dims)
        for polygon in polygons:
            coords = [(point[0], point[1]) for point in polygon]
            ImageDraw.Draw(segmentation_output).polygon(coords, outline=1, fill=1)
        segmentation = np.array(segmentation_output, dtype="int")
    else:
        segmentation = np.array(mask > threshold, dtype="int")
    return segmentation


def _chexlocalize_calculate_iou(pred_mask, gt_mask, true_pos_only):
    intersection = np.logical_and(pred_mask, gt_mask)
    union = np.logical_or(pred_mask, gt_mask)
    if true_pos_only:
        if np.sum(pred_mask) == 0 or np.sum(gt_mask) == 0:
            iou_score = np.nan
        else:
            iou_score = np.sum(intersection) / (np.sum(union))
    else:
        if np.sum(union) == 0:
            iou_score = np.nan
        else:
            iou_score = np.sum(intersection) / (np.sum(union))
    return iou_score


def _chexlocalize_get_ious(gt_dict, pred_dict, true_pos_only, tasks):
    """``eval.py`` ``get_ious`` (2a79492), its masks decoded already: ``gt_dict`` and
    ``pred_dict`` map a CXR id to ``{task: binary mask}``."""
    ious = {}
    for task in sorted(tasks):
        cxr_ids = sorted(gt_dict.keys())
        ious[task] = []
        for cxr_id in cxr_ids:
            gt_mask = gt_dict[cxr_id][task]
            if cxr_id not in pred_dict:
                pred_mask = np.zeros(gt_mask.shape)
            else:
                pred_mask = pred_dict[cxr_id][task]
            assert gt_mask.shape == pred_mask.shape
            ious[task].append(_chexlocalize_calculate_iou(pred_mask, gt_mask, true_pos_only))
        if not true_pos_only:
            for cxr_id in sorted(pred_dict.keys()):
                if cxr_id not in gt_dict:
                    pred_mask = pred_dict[cxr_id][task]
                    gt_mask = np.zeros(pred_mask.shape)
                    ious[task].append(
                        _chexlocalize_calculate_iou(pred_mask, gt_mask, true_pos_only)
                    )
        else:
            assert len(ious[task]) == len(gt_dict.keys())
    return ious


def _chexlocalize_hit(sal_map, gt_mask):
    x = np.unravel_index(np.argmax(sal_map, axis=None), sal_map.shape)[0]
    y = np.unravel_index(np.argmax(sal_map, axis=None), sal_map.shape)[1]
    if gt_mask[x][y] == 1:
        return 1
    if np.sum(gt_mask) == 0:
        return np.nan
    return 0


class _WsolMaskEvaluator:
    def __init__(self, cam_threshold_list):
        self.cam_threshold_list = cam_threshold_list
        self.num_bins = len(self.cam_threshold_list) + 2
        self.threshold_list_right_edge = np.append(self.cam_threshold_list, [1.0, 2.0, 3.0])
        self.gt_true_score_hist = np.zeros(self.num_bins, dtype=float)
        self.gt_false_score_hist = np.zeros(self.num_bins, dtype=float)

    def accumulate(self, scoremap, gt_mask):
        gt_true_scores = scoremap[gt_mask == 1]
        gt_false_scores = scoremap[gt_mask == 0]
        gt_true_hist, _ = np.histogram(gt_true_scores, bins=self.threshold_list_right_edge)
        self.gt_true_score_hist += gt_true_hist.astype(float)
        gt_false_hist, _ = np.histogram(gt_false_scores, bins=self.threshold_list_right_edge)
        self.gt_false_score_hist += gt_false_hist.astype(float)

    def compute(self):
        num_gt_true = self.gt_true_score_hist.sum()
        tp = self.gt_true_score_hist[::-1].cumsum()
        fn = num_gt_true - tp
        num_gt_false = self.gt_false_score_hist.sum()
        fp = self.gt_false_score_hist[::-1].cumsum()
        tn = num_gt_false - fp  # noqa: F841 (as in the source)
        if ((tp + fn) <= 0).all():
            raise RuntimeError("No positive ground truth in the eval set.")
        if ((tp + fp) <= 0).all():
            raise RuntimeError("No positive prediction in the eval set.")
        non_zero_indices = (tp + fp) != 0
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = tp / (tp + fp)
            recall = tp / (tp + fn)
            auc = (precision[1:] * np.diff(recall))[non_zero_indices[1:]].sum()
        return auc * 100


def _blob_mask(rng, height, width):
    mask = np.zeros((height, width), np.uint8)
    for _ in range(rng.integers(1, 3)):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        ry, rx = rng.integers(3, height // 3), rng.integers(3, width // 3)
        yy, xx = np.ogrid[:height, :width]
        mask[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
    return mask


def _smooth_map(rng, h, w):
    return cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 1.5)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("threshold", ["otsu", 0.4])
def test_segmentation_and_iou_equal_chexlocalize(seed, threshold):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(40, 120, size=2)
    saliency = _smooth_map(rng, int(rng.integers(6, 20)), int(rng.integers(6, 20)))
    resized = _chexlocalize_resize(saliency, (width, height))
    theirs = _chexlocalize_cam_to_segmentation(
        resized, np.nan if threshold == "otsu" else threshold
    )
    ours_resized = resize_bilinear(saliency, (height, width))
    np.testing.assert_allclose(ours_resized, resized.squeeze().numpy(), atol=1e-5)
    ours = chexlocalize_segmentation(ours_resized, threshold)
    np.testing.assert_array_equal(ours, theirs)
    gt = _blob_mask(rng, height, width)
    for true_pos_only in (True, False):
        expected = _chexlocalize_calculate_iou(theirs, gt, true_pos_only)
        got = mask_iou(ours, gt, true_pos_only)
        assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("step", [0.001, 0.01], ids=["evaluate_wsol", "evaluation.py"])
def test_metric_equals_chexlocalize_and_wsolevaluation_on_a_data_set(seed, step):
    rng = np.random.default_rng(100 + seed)
    classes = ["Edema", "Cardiomegaly"]
    metric = MaskMetrics(classes, pxap_step=step, keep_records=True)
    ious = {c: [] for c in classes}
    hits = {c: [] for c in classes}
    wsol = {c: _WsolMaskEvaluator(threshold_grid(step)) for c in classes}
    for _ in range(6):
        height, width = (int(v) for v in rng.integers(40, 90, size=2))
        maps = {c: _smooth_map(rng, 12, 10) for c in classes}
        masks = {c: _blob_mask(rng, height, width) for c in classes}
        masks["Cardiomegaly"] *= rng.random() < 0.7  # some images without the class
        metric.update(maps, masks)
        for c in classes:
            resized = _chexlocalize_resize(maps[c], (width, height))
            segmentation = _chexlocalize_cam_to_segmentation(resized)
            sal = resized.squeeze().numpy()
            hit = _chexlocalize_hit(sal, masks[c])
            if not math.isnan(hit):  # CheXlocalize scores pairs with a GT mask
                hits[c].append(hit)
                ious[c].append(_chexlocalize_calculate_iou(segmentation, masks[c], True))
                score = scoremap(maps[c], (height, width), "minmax", "cubic")
                wsol[c].accumulate(score, masks[c])
    result = metric.compute()
    for c in classes:
        if not hits[c]:
            assert result[c]["pairs"] == 0
            continue
        assert result[c]["hit_rate"] == pytest.approx(np.mean(hits[c]))
        assert result[c]["miou"] == pytest.approx(np.nanmean(ious[c]))
        assert result[c]["pxap"] * 100 == pytest.approx(wsol[c].compute(), rel=1e-9)
    resampled = metric.resampled(np.ones((1, 6)))
    for key in ("miou", "hit_rate", "pxap"):
        np.testing.assert_allclose(resampled[key][0], [result[c][key] for c in [*classes, "mean"]])


def test_resampled_equals_recomputing_on_the_drawn_images():
    rng = np.random.default_rng(7)
    images = [({"A": _smooth_map(rng, 8, 8)}, {"A": _blob_mask(rng, 32, 32)}) for _ in range(5)]
    metric = MaskMetrics(["A"], keep_records=True)
    for maps, masks in images:
        metric.update(maps, masks)
    weights = np.array([[2, 0, 1, 1, 1], [0, 0, 3, 1, 1]], float)
    got = metric.resampled(weights)
    for row, w in enumerate(weights):
        again = MaskMetrics(["A"])
        for (maps, masks), count in zip(images, w, strict=True):
            for _ in range(int(count)):
                again.update(maps, masks)
        expected = again.compute()["A"]
        for key in ("miou", "hit_rate", "pxap"):
            assert got[key][row, 0] == pytest.approx(expected[key])


def test_edges():
    metric = MaskMetrics(["A", "B"])
    metric.update(
        {"A": np.ones((4, 4))}, {"A": np.ones((8, 8)), "B": np.zeros((8, 8))}
    )  # constant map
    result = metric.compute()
    assert result["A"]["hit_rate"] == 0.0 and math.isnan(result["A"]["miou"])
    assert result["B"]["pairs"] == 0 and math.isnan(result["B"]["hit_rate"])
    assert math.isnan(float(average_precision(np.zeros(5), np.ones(5))))
    with pytest.raises(ValueError, match="lacks 'A'"):
        metric.update({}, {"A": np.ones((8, 8))})
    with pytest.raises(ValueError, match="threshold"):
        MaskMetrics(["A"], threshold=1.5)
    restored = MaskMetrics(["A", "B"])
    restored.load_state_dict(metric.state_dict())
    assert restored.compute()["A"]["pairs"] == 1


@pytest.mark.parametrize("seed", range(6))
def test_the_pairs_scored_are_chexlocalizes_get_ious(tmp_path, seed):
    """Both settings of ``true_pos_only`` through the whole scorer (the CheXlocalize reader,
    a maps file, ``score_maps``) equal ``get_ious`` over the same segmentations: GT-negative
    pairs, constant maps (an empty segmentation) and CXRs found only in the maps included.
    (A check of 6 CXRs gave mIoU 0.35 for GT-positive pairs only, 0.08 for all of them.)"""
    import json

    from cam_boxes_iobb import read_annotations, save_maps
    from cam_boxes_iobb.maps import open_maps
    from cam_boxes_iobb.rle import encode
    from cam_boxes_iobb.scoring import ScoreSettings, score_maps

    rng = np.random.default_rng(300 + seed)
    tasks = ["Airspace Opacity", "Edema", "Lung Lesion"]
    gt_ids = [f"patient{i}_study1_view1_frontal" for i in range(6)]
    pred_only = [f"patient{i}_study1_view1_frontal" for i in range(90, 92)]
    gt_masks, gt_file = {}, {}
    for cxr in gt_ids:
        height, width = (int(v) for v in rng.integers(40, 80, size=2))
        gt_masks[cxr] = {t: _blob_mask(rng, height, width) * (rng.random() < 0.5) for t in tasks}
        gt_masks[cxr][tasks[0]] = _blob_mask(rng, height, width)  # every task has some mask
        gt_file[cxr] = {}
        for t in tasks:
            rle = encode(gt_masks[cxr][t])
            gt_file[cxr][t] = {"size": rle["size"], "counts": rle["counts"].decode()}
    (tmp_path / "gt.json").write_text(json.dumps(gt_file))
    ids = [*gt_ids, *pred_only]
    maps = np.stack([np.stack([_smooth_map(rng, 12, 10) for _ in tasks]) for _ in ids])
    maps[1, 1] = 0.5  # a constant map: an empty segmentation
    save_maps(tmp_path / "maps.npz", ids, tasks, maps)

    pred = {}
    for i, cxr in enumerate(ids):
        height, width = gt_masks[cxr][tasks[0]].shape if cxr in gt_masks else maps.shape[-2:]
        with np.errstate(invalid="ignore"):  # the constant map, below
            pred[cxr] = {
                t: _chexlocalize_cam_to_segmentation(
                    _chexlocalize_resize(maps[i, k], (width, height))
                )
                for k, t in enumerate(tasks)
            }
    # a constant map: CheXlocalize divides 0 by 0 and casts NaN to uint8, which numpy leaves
    # undefined; here it has no foreground (the module's convention)
    pred[ids[1]][tasks[1]] = np.zeros(gt_masks[ids[1]][tasks[1]].shape, int)
    annotations = read_annotations(tmp_path / "gt.json", "chexlocalize")
    for true_pos_only in (True, False):
        expected = _chexlocalize_get_ious(gt_masks, pred, true_pos_only, tasks)
        settings = ScoreSettings(true_positives_only=true_pos_only, resamples=0)
        score = score_maps(open_maps(tmp_path / "maps.npz"), annotations, settings)
        result = score.scorer.metrics["masks"].compute()
        assert score.prediction_only_images == (0 if true_pos_only else len(pred_only))
        for task in tasks:
            want = np.nanmean(expected[task]) if not np.isnan(expected[task]).all() else math.nan
            got = result[task]["miou"]
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want), task


def test_the_default_pxap_step_is_wsolevaluations_evaluate_wsol_default():
    """wsolevaluation (96f4b88): ``evaluation.py`` ``evaluate_wsol(cam_curve_interval=.001)`` and
    ``config.py`` ``--cam_curve_interval default=.001``; its ``__main__`` parser has 0.01."""
    from cam_boxes_iobb.mask_metrics import PXAP_STEP
    from cam_boxes_iobb.scoring import ScoreSettings

    assert PXAP_STEP == 0.001 == ScoreSettings().pxap_step
    assert len(MaskMetrics(["A"]).edges) == 1000 + 3
