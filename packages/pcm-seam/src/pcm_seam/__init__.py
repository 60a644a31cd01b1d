"""The Pixel Correlation Module and the SEAM equivariant training objective (on kornia warps)."""

from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams
from pcm_seam.losses import ecr_loss, msml_loss, ohem
from pcm_seam.pcm import PCM, pixel_correlation
from pcm_seam.seam import (
    BranchOutputs,
    SEAMLoss,
    SEAMLossOutput,
    SEAMStepOutput,
    freeze_model,
    run_branch,
    seam_step,
)
from pcm_seam.warps import rotate

__all__ = [
    "BACKGROUND_INDEX",
    "PCM",
    "BranchOutputs",
    "SEAMLoss",
    "SEAMLossOutput",
    "SEAMStepOutput",
    "ecr_loss",
    "freeze_model",
    "msml_loss",
    "ohem",
    "pixel_correlation",
    "prepare_cams",
    "rotate",
    "run_branch",
    "seam_step",
]
__version__ = "0.1.0"
