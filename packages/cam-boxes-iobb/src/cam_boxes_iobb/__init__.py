"""CAM heatmaps -> boxes -> IoBB/IoU localization metrics and overlays (ChestX-ray8 protocol)."""

from cam_boxes_iobb.bootstrap import Intervals, bootstrap, resample_weights
from cam_boxes_iobb.boxes import check_boxes, iobb, iou
from cam_boxes_iobb.heatmap import heatmap_to_boxes, heatmaps_to_boxes, normalize_heatmap
from cam_boxes_iobb.localization import (
    PAPER_THRESHOLDS,
    LocalizationMetric,
    localization_metrics,
)
from cam_boxes_iobb.overlay import overlay
from cam_boxes_iobb.scoremap import scoremap
from cam_boxes_iobb.threshold_free import (
    MaxBoxAcc,
    PointingGame,
    ThresholdCurve,
    boxes_at,
    threshold_grid,
)

__all__ = [
    "PAPER_THRESHOLDS",
    "Intervals",
    "LocalizationMetric",
    "MaxBoxAcc",
    "PointingGame",
    "ThresholdCurve",
    "bootstrap",
    "boxes_at",
    "check_boxes",
    "heatmap_to_boxes",
    "heatmaps_to_boxes",
    "iobb",
    "iou",
    "localization_metrics",
    "normalize_heatmap",
    "overlay",
    "resample_weights",
    "scoremap",
    "threshold_grid",
]
__version__ = "0.1.0"
