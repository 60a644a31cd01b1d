"""Run configuration: every hyper-parameter of a run (each one a flag) and the presets.

The command line is turned into a :class:`RunConfig` and checked in
:mod:`cxr_paper.configuration.cli`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxr_paper.configuration.presets import PRESETS
from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.configuration.saved_types import check_types
from cxr_paper.errors import RunError
from cxr_paper.files.jsonio import write_json

CONFIG_FILE = "config.json"
#: Table 1's four models.
PAPER_MODELS = ("resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4")


def _field(default: Any, help: str) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class RunConfig:
    """Every resolved hyper-parameter of a run; written to ``config.json`` in the run folder.

    Attributes:
        preset, data, out: Where the run starts from, reads and writes.
        models, image_size, pretrained, head_dropout, finetune_policy, lse_gamma: The models.
        epochs ... rotation: Stage 1 (the classifier) and its augmentation.
        pcm_epochs ... pcm_reads_image: Stage 2 (the PCM, trained with SEAM).
        heatmap_threshold ... temperature_scaling: How the test split is scored and decided.
        no_finding ... synthetic_difficulty: The data.
        workers ... device, reproducible: The machine.
        seed, data_seed, bootstrap_resamples, bootstrap_seed: Randomness.
        figure_images, latency_repeats: The report.

    Every field is the flag of the same name (``image_size`` is ``--image-size``); its help text,
    printed by ``reproduce_paper.py --help``, is the field's ``metadata["help"]``.
    """

    preset: str = _field(
        "paper", "preset the other values start from (the command line's default: demo)"
    )
    data: str = _field(
        "",
        "a ChestX-ray14 folder, 'synthetic' (the NIH-format set, generated if absent), or "
        "LAYOUT:PATH for another published set (chexpert, mimic, vindr, rsna, siim, nih; PATH "
        "'synthetic' generates one in that layout); the paper preset has no default: it means "
        "the real ChestX-ray14",
    )
    out: str = _field("runs/paper", "run folder: config, checkpoints, metrics, figures, report")
    models: list[str] = _field(list(PAPER_MODELS), "models to train, compared side by side")
    image_size: int = _field(256, "side of the network input in pixels")
    pretrained: list[str] = _field(
        ["torchvision"],
        "backbone weights: 'none', 'timm', 'torchvision' (the authors'), a weights file, or "
        "MODEL=KIND_OR_FILE pairs, one per model; every file is checked before training",
    )
    head_dropout: list[str] = _field(
        ["0", "efficientnet_b4=0.4", "multires_efficientnet_b4=0.4"],
        "dropout before the classifier: P for every model or MODEL=P pairs (authors' B4: 0.4)",
    )
    finetune_policy: bool = _field(
        True, "train only the deep backbone stages + new layers (paper, with pretrained weights)"
    )
    lse_gamma: float = _field(10.0, "LSE pooling sharpness (ChestX-ray8, the paper: 10)")
    epochs: int = _field(35, "stage-1 epochs (classifier)")
    batch_size: int = _field(32, "images per step")
    accumulation: int = _field(3, "gradient accumulation steps (paper: 3, for an effective 96)")
    lr: float = _field(3e-4, "stage-1 Adam learning rate")
    betas: list[float] = _field([0.9, 0.9], "Adam betas, both stages (paper: 0.9, 0.9)")
    weight_decay: float = _field(0.0, "stage-1 Adam weight decay (paper: none)")
    plateau_patience: int = _field(6, "ReduceLROnPlateau patience on validation macro-AUROC")
    plateau_factor: float = _field(0.1, "ReduceLROnPlateau factor")
    min_lr: float = _field(1e-7, "ReduceLROnPlateau floor")
    crop_scale: list[float] = _field([0.8, 1.0], "RandomResizedCrop area range (paper)")
    crop_ratio: list[float] = _field([0.75, 1.733], "RandomResizedCrop aspect range (paper)")
    rotation: float = _field(15.0, "training rotation range in degrees (paper: 15)")
    pcm_epochs: int = _field(3, "stage-2 (SEAM) epochs for the PCM")
    pcm_lr: float = _field(1e-6, "stage-2 Adam learning rate (EfficientNetB4: --pcm-overrides)")
    pcm_overrides: dict[str, list[float]] = _field(
        {"multires_efficientnet_b4": [1e-5, 1], "efficientnet_b4": [1e-5, 1]},
        "per-model [lr, epochs] for stage 2 (the paper's EfficientNetB4: 1e-5 for 1 epoch)",
    )
    grad_clip: float = _field(2.0, "stage-2 gradient-norm clip")
    seam_variant: str = _field(
        "paper",
        "SEAM objective, a pcm_seam.SEAM_VARIANTS name: 'paper', or a source's settings "
        "exactly: 'seam' (train_SEAM.py), 'authors' (their train_step; their PCM-input bug off, "
        "as these models have no 15th output), 'masked-cam-scale' (this project's first release; "
        "formerly 'landed')",
    )
    seam_overrides: dict[str, Any] = _field(
        {},
        'SEAMLoss arguments over the variant\'s, e.g. {"ecr_resolution": "cam", "max_angle": 15}',
    )
    pcm_reads_image: bool = _field(
        False, "the PCM embeds the image with the features (SEAM's PCM; the paper's: no)"
    )
    heatmap_threshold: float = _field(
        PAPER_PROTOCOL.heatmap_threshold, "Q: heatmap threshold for boxes"
    )
    cam_methods: list[str] = _field(
        ["cam"],
        "maps to localize with, each also PCM-refined: the model's 'cam' and (opt-in; all box "
        "classes in one batched backward pass) 'gradcam', 'gradcam++', 'hirescam', 'layercam', "
        "'xgradcam'",
    )
    pointing_tolerance: float = _field(
        15.0,
        "pointing game: hit within this many pixels of the original image, the box frame "
        "(Zhang et al.: 15); the map is resized to it",
    )
    prob_threshold: float = _field(
        PAPER_PROTOCOL.prob_threshold,
        "boxes only for classes predicted above this probability (the paper's protocol)",
    )
    score_on: list[str] = _field(
        [],
        "after training, score each model on other sets' annotations too: LAYOUT:PATH entries "
        "(their test split; the model's classes mapped through the vocabulary, unmapped ones "
        "listed), into score_on/ of the run folder",
    )
    operating_point: str = _field(
        "youden",
        "per-class threshold chosen on validation for the saved model (predict.py): 'youden', "
        "'sensitivity:S' or 'specificity:S'; the localization tables keep --prob-threshold",
    )
    temperature_scaling: bool = _field(
        False, "fit a temperature on validation; report calibration before and after it"
    )
    no_finding: int = _field(5000, "No-Finding images drawn into train + val (ChestX-ray14)")
    val_fraction: float = _field(0.2, "validation share, split by patient")
    test_fraction: float = _field(
        0.2, "test share, split by patient, of a set that publishes no test split"
    )
    uncertainty: str = _field(
        "u-ignore",
        "what an uncertain (-1) label trains as (CheXpert, MIMIC): 'u-ignore' (masked out of the "
        "loss and the AUROC), 'u-zeros' or 'u-ones' (Irvin et al. 2019)",
    )
    blank: str = _field(
        "negative", "what a blank (unmentioned) label is (CheXpert, MIMIC): 'negative' or 'ignore'"
    )
    views: str = _field(
        "frontal", "'frontal' (PA, AP and images of no stated view) or 'all' (laterals too)"
    )
    mimic_labels: str = _field(
        "chexpert", "MIMIC-CXR-JPG: which labeler's labels, 'chexpert' or 'negbio'"
    )
    readers: str = _field(
        "majority",
        "VinDr-CXR: an image has a finding when 'majority' or 'any' of its readers say so",
    )
    box_frame: list[int] = _field(
        [1024, 1024], "H W of BBox_List's coordinates (NIH: 1024 1024 whatever the PNG size)"
    )
    cache: str = _field("", "folder of the prepared store if not inside --data (read-only mounts)")
    synthetic_patients: int = _field(900, "patients of the generated synthetic set")
    synthetic_size: int = _field(256, "image side of the generated synthetic set")
    synthetic_difficulty: str = _field(
        "nih", "how visible the synthetic findings are: 'nih' (NIH-like AUROC) or 'easy'"
    )
    workers: int = _field(0, "DataLoader worker processes per rank")
    checkpoint_every: int = _field(
        50, "optimizer steps between mid-epoch checkpoints (0: epoch ends only)"
    )
    amp: str = _field("auto", "'auto' (bf16 autocast on GPU, fp32 on CPU), 'bf16' or 'off'")
    channels_last: bool = _field(
        True, "channels_last memory format (faster convolutions on GPU, and on CPU here)"
    )
    compile: bool = _field(False, "torch.compile the stage-1 model")
    sync_bn: bool = _field(
        False, "SyncBatchNorm across GPUs under torchrun (small per-GPU batches)"
    )
    skip_unreadable: bool = _field(False, "skip (and report) corrupt images instead of stopping")
    skip_bad_boxes: bool = _field(
        False, "drop (and report) GT boxes outside the box frame instead of stopping"
    )
    device: str = _field("auto", "'auto', 'cpu', 'cuda' or 'cuda:N'")
    reproducible: bool = _field(
        False,
        "CPU only: the same weights on any x86-64 machine with AVX2 (ATen at AVX2, oneDNN off, "
        "MKL_CBWR=COMPATIBLE, 1 thread, deterministic algorithms; several times slower)",
    )
    seed: int = _field(0, "training seed: initialisation, augmentation, batch order, SEAM angles")
    data_seed: int = _field(
        0,
        "data seed: the synthetic set, the train/val split, the No-Finding draw and the "
        "calibration part (apart from --seed, so a study can vary training on one data set)",
    )
    bootstrap_resamples: int = _field(1000, "patient-level bootstrap resamples per interval")
    bootstrap_seed: int = _field(0, "seed of the bootstrap resamples")
    figure_images: int = _field(6, "test images in the Fig. 7 grid")
    latency_repeats: int = _field(50, "timed forward passes per model for Table 4")

    def save(self, folder: Path) -> None:
        write_json(dataclasses.asdict(self), folder / CONFIG_FILE)

    @classmethod
    def load(cls, folder: Path) -> RunConfig:
        """The configuration a run saved in ``folder``, as :meth:`save` wrote it.

        Examples:
            >>> import tempfile
            >>> folder = Path(tempfile.mkdtemp())
            >>> RunConfig(**preset_values("demo")).save(folder)
            >>> RunConfig.load(folder).models
            ['resnet10t', 'multires_resnet10t']
        """
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in saved_values(folder).items() if k in known})

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


def preset_values(preset: str) -> dict[str, Any]:
    """Every setting of ``preset``: the defaults (the paper's) with the preset's changes.

    Args:
        preset: A name of :data:`PRESETS`.

    Returns:
        ``{field: value}`` for every :class:`RunConfig` field.

    Raises:
        RunError: An unknown preset.
    """
    if preset not in PRESETS:
        raise RunError(f"preset {preset!r}: expected one of {sorted(PRESETS)}.")
    return {**dataclasses.asdict(RunConfig()), **PRESETS[preset], "preset": preset}


def saved_values(folder: Path) -> dict[str, Any]:
    """The settings in ``folder``'s ``config.json``, over its preset's (for keys it lacks).

    Args:
        folder: A run folder.

    Returns:
        ``{field: value}`` for every :class:`RunConfig` field.

    Raises:
        RunError: No ``config.json``, unreadable JSON, or an unknown preset in it.
    """
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"{folder}: no {CONFIG_FILE}; not the folder of a reproduce_paper run.")
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: not readable JSON ({error}).") from None
    if not isinstance(saved, dict):
        raise RunError(f"{path}: expected a JSON object of settings, got {type(saved).__name__}.")
    preset = saved.get("preset", "demo")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise RunError(f"{path}: preset {preset!r} is not one of {sorted(PRESETS)}.")
    values = {**preset_values(preset), **saved}
    check_types(values, dataclasses.asdict(RunConfig()), str(path))
    return values


def _per_model(items: list[str], flag: str, models: list[str]) -> dict[str, str]:
    """``VALUE`` for every model and/or ``MODEL=VALUE`` pairs -> ``{model: value}``.

    Every model of ``models`` must be covered; pairs for other models are ignored (a preset
    may name models the command line left out), but their names are checked in :func:`validate`.
    """
    shared = [item for item in items if "=" not in item]
    pairs = dict(item.split("=", 1) for item in items if "=" in item)
    if len(shared) > 1:
        raise RunError(f"--{flag}: one value for all models or MODEL=VALUE pairs, got {items}.")
    missing = [m for m in models if m not in pairs and not shared]
    if missing:
        raise RunError(
            f"--{flag} gives no value for {missing}: add {missing[0]}=VALUE, or one value "
            "for every model."
        )
    return {m: pairs.get(m, shared[0] if shared else "") for m in models}
