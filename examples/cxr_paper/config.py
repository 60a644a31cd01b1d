"""Run configuration: every hyper-parameter of a run (each one a flag) and the presets.

The command line is turned into a :class:`RunConfig` and checked in :mod:`cxr_paper.cli`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcm_seam import SEAMLoss

from .jsonio import write_json


def _field(default: Any, help: str) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class RunConfig:
    """Every resolved hyper-parameter of a run; written to ``config.json`` in the run folder."""

    preset: str = _field("demo", "preset the other values start from")
    data: str = _field("synthetic", "'synthetic' (generated if absent) or a ChestX-ray14 folder")
    out: str = _field("runs/demo", "run folder: config, checkpoints, metrics, figures, report")
    models: list[str] = _field(
        ["resnet10t", "multires_resnet10t"], "models to train, compared side by side"
    )
    image_size: int = _field(128, "side of the network input in pixels")
    pretrained: list[str] = _field(
        ["none"],
        "backbone weights: 'none', 'timm', 'torchvision' (the authors'), a weights file, or "
        "MODEL=KIND_OR_FILE pairs, one per model; every file is checked before training",
    )
    head_dropout: list[str] = _field(
        [], "dropout before the classifier: P for every model or MODEL=P pairs (authors' B4: 0.4)"
    )
    finetune_policy: bool = _field(
        False, "train only the deep backbone stages + new layers (paper, with pretrained weights)"
    )
    lse_gamma: float = _field(10.0, "LSE pooling sharpness (ChestX-ray8, the paper: 10)")
    epochs: int = _field(6, "stage-1 epochs (classifier)")
    batch_size: int = _field(32, "images per step")
    accumulation: int = _field(1, "gradient accumulation steps (paper: 3, for an effective 96)")
    lr: float = _field(1e-3, "stage-1 Adam learning rate (paper: 3e-4)")
    betas: list[float] = _field([0.9, 0.9], "Adam betas, both stages (paper: 0.9, 0.9)")
    weight_decay: float = _field(0.0, "stage-1 Adam weight decay (paper: none)")
    plateau_patience: int = _field(6, "ReduceLROnPlateau patience on validation macro-AUROC")
    plateau_factor: float = _field(0.1, "ReduceLROnPlateau factor")
    min_lr: float = _field(1e-7, "ReduceLROnPlateau floor")
    crop_scale: list[float] = _field([0.8, 1.0], "RandomResizedCrop area range (paper)")
    crop_ratio: list[float] = _field([0.75, 1.733], "RandomResizedCrop aspect range (paper)")
    rotation: float = _field(15.0, "training rotation range in degrees (paper: 15)")
    pcm_epochs: int = _field(3, "stage-2 (SEAM) epochs for the PCM")
    pcm_lr: float = _field(
        1e-3, "stage-2 Adam learning rate (paper: 1e-6; 1e-5 for EfficientNetB4)"
    )
    pcm_overrides: dict[str, list[float]] = _field(
        {}, "per-model [lr, epochs] for stage 2, e.g. EfficientNetB4"
    )
    grad_clip: float = _field(2.0, "stage-2 gradient-norm clip")
    seam_max_angle: float = _field(30.0, "SEAM rotations in [-a, a] degrees")
    lambda_msml: float = _field(1.5, "SEAM weight of the MSML term (paper: 1.5)")
    lambda_ecr: float = _field(1.0, "SEAM weight of the ECR term (paper: 1.0)")
    ohem_keep: float = _field(0.2, "share of ECR entries kept per image by OHEM (paper: 0.2)")
    mask_padding: bool = _field(
        True, "leave the rotation's zero-filled corners out of the ECR (ours; SEAM/authors: no)"
    )
    pcm_input_masking: bool = _field(
        False, "multiply the PCM input by the labels in training (first release; SEAM: no)"
    )
    seam_label_maps: bool = _field(True, "multiply the ECR maps by the labels (SEAM, authors)")
    ecr_normalize: str = _field(
        "max", "refined maps before the ECR: 'max' (SEAM, authors), 'minmax' or 'none'"
    )
    ecr_resolution: str = _field(
        "image", "ECR on maps upsampled to the input ('image': SEAM, authors) or at 'cam' size"
    )
    msml_reduction: str = _field(
        "mean", "the two branches' MSML terms: 'mean' (SEAM) or 'sum' (authors)"
    )
    msml_on: str = _field(
        "refined", "MSML on the refined maps ('refined', paper) or 'refined_logits' (experiment)"
    )
    seam_angle_per: str = _field(
        "batch", "one rotation angle per 'batch' (SEAM, authors) or 'image'"
    )
    pcm_reads_image: bool = _field(
        False, "the PCM embeds the image with the features (SEAM's PCM; the paper's: no)"
    )
    seam_variant: str = _field(
        "paper",
        "SEAM objective: 'paper' (set by the switches above) or a source's exactly: 'seam' "
        "(train_SEAM.py), 'authors' (their train_step, without their PCM-input bug: these "
        "models have no 15th output), 'landed'; those ignore the switches and lambdas above but "
        "keep --seam-max-angle and --ohem-keep",
    )
    heatmap_threshold: float = _field(0.7, "Q: heatmap threshold for boxes")
    cam_methods: list[str] = _field(
        ["cam"],
        "maps to localize with, each also PCM-refined: the model's 'cam' and (opt-in, 8 passes "
        "a batch) 'gradcam', 'gradcam++', 'hirescam', 'layercam', 'xgradcam'",
    )
    pointing_tolerance: float = _field(
        15.0,
        "pointing game: hit within this many pixels of the original image, the box frame "
        "(Zhang et al.: 15); the map is resized to it",
    )
    prob_threshold: float = _field(0.5, "boxes only for classes predicted above this probability")
    no_finding: int = _field(5000, "No-Finding images drawn into train + val")
    val_fraction: float = _field(0.2, "validation share, split by patient")
    box_frame: list[int] = _field(
        [1024, 1024], "H W of BBox_List's coordinates (NIH: 1024 1024 whatever the PNG size)"
    )
    cache: str = _field("", "folder of the prepared store if not inside --data (read-only mounts)")
    synthetic_patients: int = _field(900, "patients of the generated synthetic set")
    synthetic_size: int = _field(128, "image side of the generated synthetic set")
    synthetic_difficulty: str = _field(
        "nih", "how visible the synthetic findings are: 'nih' (NIH-like AUROC) or 'easy'"
    )
    workers: int = _field(0, "DataLoader worker processes per rank")
    checkpoint_every: int = _field(
        50, "optimizer steps between mid-epoch checkpoints (0: epoch ends only)"
    )
    amp: str = _field("auto", "'auto' (bf16 autocast on GPU, fp32 on CPU), 'bf16' or 'off'")
    channels_last: bool = _field(False, "channels_last memory format (faster convolutions on GPU)")
    compile: bool = _field(False, "torch.compile the stage-1 model")
    sync_bn: bool = _field(
        False, "SyncBatchNorm across GPUs under torchrun (small per-GPU batches)"
    )
    skip_unreadable: bool = _field(False, "skip (and report) corrupt images instead of stopping")
    skip_bad_boxes: bool = _field(
        False, "drop (and report) GT boxes outside the box frame instead of stopping"
    )
    device: str = _field("auto", "'auto', 'cpu', 'cuda' or 'cuda:N'")
    seed: int = _field(0, "training seed: initialisation, augmentation, batch order, SEAM angles")
    data_seed: int = _field(
        0,
        "data seed: the synthetic set, the train/val split, the No-Finding draw and the "
        "calibration part (apart from --seed, so a study can vary training on one data set)",
    )
    bootstrap_resamples: int = _field(1000, "patient-level bootstrap resamples per interval")
    bootstrap_seed: int = _field(0, "seed of the bootstrap resamples")
    figure_images: int = _field(6, "test images in the Fig. 7 grid")
    latency_repeats: int = _field(20, "timed forward passes per model for Table 4")

    def save(self, folder: Path) -> None:
        write_json(dataclasses.asdict(self), folder / "config.json")

    def weights_for(self, model: str) -> str:
        """The ``--pretrained`` entry for ``model``: a kind or a file."""
        return _per_model(self.pretrained, "pretrained", self.models)[model]

    def head_dropout_for(self, model: str) -> float:
        values = _per_model(self.head_dropout or ["0"], "head-dropout", self.models)
        return float(values[model])

    def pcm_schedule(self, model: str) -> tuple[float, int]:
        """Stage-2 ``(lr, epochs)`` of ``model`` (``--pcm-overrides`` first)."""
        lr, epochs = self.pcm_overrides.get(model, [self.pcm_lr, self.pcm_epochs])
        return float(lr), int(epochs)


def seam_loss(config: RunConfig) -> SEAMLoss:
    """The stage-2 objective: a source's variant (``--seam-variant``) or the paper's objective
    with every switch of the run (see ``pcm_seam.SEAM_VARIANTS``)."""
    if config.seam_variant != "paper":
        overrides: dict[str, Any] = dict(max_angle=config.seam_max_angle, keep=config.ohem_keep)
        if config.seam_variant == "authors":
            # their PCM-input line reads a 15th classifier output that these models do not return
            overrides["authors_input_bug"] = False
        return SEAMLoss.variant(config.seam_variant, **overrides)
    return SEAMLoss(
        lambda_msml=config.lambda_msml,
        lambda_ecr=config.lambda_ecr,
        max_angle=config.seam_max_angle,
        keep=config.ohem_keep,
        mask_padding=config.mask_padding,
        mask_input=config.pcm_input_masking,
        label_loss_maps=config.seam_label_maps,
        ecr_normalize=config.ecr_normalize,
        ecr_resolution=config.ecr_resolution,
        msml_reduction=config.msml_reduction,
        msml_on=config.msml_on,
        angle_per=config.seam_angle_per,
    )


def _per_model(items: list[str], flag: str, models: list[str]) -> dict[str, str]:
    """``VALUE`` for every model and/or ``MODEL=VALUE`` pairs -> ``{model: value}``.

    Every model of ``models`` must be covered; pairs for other models are ignored (a preset
    may name models the command line left out), but their names are checked in :func:`validate`.
    """
    shared = [item for item in items if "=" not in item]
    pairs = dict(item.split("=", 1) for item in items if "=" in item)
    if len(shared) > 1:
        raise SystemExit(
            f"error: --{flag}: one value for all models or MODEL=VALUE pairs, got {items}."
        )
    missing = [m for m in models if m not in pairs and not shared]
    if missing:
        raise SystemExit(
            f"error: --{flag} gives no value for {missing}: add {missing[0]}=VALUE, or one value "
            "for every model."
        )
    return {m: pairs.get(m, shared[0] if shared else "") for m in models}


PRESETS: dict[str, dict[str, Any]] = {
    # seconds, for tests
    "smoke": dict(
        out="runs/smoke",
        models=["resnet10t", "multires_resnet10t"],
        image_size=64,
        epochs=1,
        batch_size=8,
        pcm_epochs=1,
        synthetic_patients=16,
        synthetic_size=64,
        no_finding=5000,
        figure_images=2,
        latency_repeats=2,
        checkpoint_every=2,
    ),
    # the paper's central effect on the synthetic set, well under 8 minutes on 2 CPU cores: the
    # defaults with 5 + 2 epochs, channels_last (faster on CPU too) and the ECR at the CAMs'
    # size (a third of the SEAM stage's time; the paper preset computes it at the image's size,
    # as SEAM does)
    "demo": dict(epochs=5, pcm_epochs=2, channels_last=True, ecr_resolution="cam"),
    # DESIGN §3: the four models of Table 1 on the real data, from torchvision's weights
    "paper": dict(
        out="runs/paper",
        models=["resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4"],
        image_size=256,
        pretrained=["torchvision"],
        head_dropout=["0", "efficientnet_b4=0.4", "multires_efficientnet_b4=0.4"],
        finetune_policy=True,
        epochs=35,
        batch_size=32,
        accumulation=3,
        lr=3e-4,
        pcm_epochs=3,
        pcm_lr=1e-6,
        pcm_overrides={"multires_efficientnet_b4": [1e-5, 1], "efficientnet_b4": [1e-5, 1]},
        synthetic_size=256,
        latency_repeats=50,
        channels_last=True,
    ),
}
