"""The names of the methods that make class maps: the one list the flags, the scorers and the
Grad-CAM registry (:mod:`cxr_paper.scoring.batched_cam`) read."""

from __future__ import annotations

#: The Grad-CAM family, as the grad-cam package (pytorch-grad-cam) names its classes' methods.
GRADIENT_METHODS = ("gradcam", "gradcam++", "hirescam", "layercam", "xgradcam")
#: ``--cam-methods``: the model's own CAM, then the Grad-CAM family.
CAM_METHODS = ("cam", *GRADIENT_METHODS)
