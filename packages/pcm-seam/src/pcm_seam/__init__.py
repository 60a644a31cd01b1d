"""The Pixel Correlation Module and the SEAM equivariant training objective (on kornia warps)."""

from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams
from pcm_seam.losses import check_keep, ecr_loss, min_pooling_loss, msml_loss, ohem
from pcm_seam.objective import (
    RENAMED_OBJECTIVES,
    SEAM_OBJECTIVES,
    ECRTargets,
    ECRTerm,
    MapNormalization,
    MSMLTerm,
    SEAMObjective,
    SiameseTransform,
    TermWeights,
)
from pcm_seam.pcm import PCM, auto_chunk_size, pixel_correlation
from pcm_seam.refine import foreground, pcm_input, refine
from pcm_seam.seam import (
    SEAM_VARIANTS,
    BranchOutputs,
    SEAMLoss,
    SEAMLossOutput,
    SEAMStepOutput,
    freeze_model,
    normalize_maps,
    run_branch,
    seam_step,
)
from pcm_seam.warps import rotate_torchvision_with_mask, rotate_with_mask

__all__ = [
    "BACKGROUND_INDEX",
    "PCM",
    "RENAMED_OBJECTIVES",
    "SEAM_OBJECTIVES",
    "SEAM_VARIANTS",
    "BranchOutputs",
    "ECRTargets",
    "ECRTerm",
    "MSMLTerm",
    "MapNormalization",
    "SEAMLoss",
    "SEAMLossOutput",
    "SEAMObjective",
    "SEAMStepOutput",
    "SiameseTransform",
    "TermWeights",
    "auto_chunk_size",
    "check_keep",
    "ecr_loss",
    "foreground",
    "freeze_model",
    "min_pooling_loss",
    "msml_loss",
    "normalize_maps",
    "ohem",
    "pcm_input",
    "pixel_correlation",
    "prepare_cams",
    "refine",
    "rotate_torchvision_with_mask",
    "rotate_with_mask",
    "run_branch",
    "seam_step",
]
__version__ = "0.1.0"
