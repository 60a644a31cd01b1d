"""CAM heatmaps -> boxes -> IoBB/IoU localization metrics and overlays (ChestX-ray8 protocol);
mask metrics; an evaluator of any maps against any box or mask data set in COCO's neutral form."""

from cam_boxes_iobb.annotations import AnnotationError, Annotations, ImageAnnotation
from cam_boxes_iobb.bootstrap import Intervals, bootstrap, resample_weights
from cam_boxes_iobb.boxes import check_boxes, iobb, iou
from cam_boxes_iobb.formats import read_annotations, write_coco
from cam_boxes_iobb.heatmap import (
    contour_boxes,
    heatmap_to_boxes,
    heatmaps_to_boxes,
    normalize_heatmap,
)
from cam_boxes_iobb.localization import (
    HIT_THRESHOLD,
    PAPER_THRESHOLDS,
    LocalizationMetric,
    localization_metrics,
    matches,
)
from cam_boxes_iobb.maps import MapsError, open_maps, save_maps
from cam_boxes_iobb.mask_metrics import MaskMetrics
from cam_boxes_iobb.overlay import overlay
from cam_boxes_iobb.scoremap import scoremap
from cam_boxes_iobb.scoring import ScoreError, ScoreSettings, paired_differences, score_maps
from cam_boxes_iobb.threshold_free import (
    MaxBoxAcc,
    PointingGame,
    ThresholdCurve,
    boxes_at,
    threshold_grid,
)

__all__ = [
    "HIT_THRESHOLD",
    "PAPER_THRESHOLDS",
    "AnnotationError",
    "Annotations",
    "ImageAnnotation",
    "Intervals",
    "LocalizationMetric",
    "MapsError",
    "MaskMetrics",
    "MaxBoxAcc",
    "PointingGame",
    "ScoreError",
    "ScoreSettings",
    "ThresholdCurve",
    "bootstrap",
    "boxes_at",
    "check_boxes",
    "contour_boxes",
    "heatmap_to_boxes",
    "heatmaps_to_boxes",
    "iobb",
    "iou",
    "localization_metrics",
    "matches",
    "normalize_heatmap",
    "open_maps",
    "overlay",
    "paired_differences",
    "read_annotations",
    "resample_weights",
    "save_maps",
    "score_maps",
    "scoremap",
    "threshold_grid",
    "write_coco",
]
__version__ = "0.1.0"
