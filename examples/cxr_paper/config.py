"""Run configuration: the three presets and every hyper-parameter as a command-line flag."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    pretrained: str = _field(
        "none", "'none', 'timm' (ImageNet weights, needs internet) or a weights file"
    )
    finetune_policy: bool = _field(
        False, "train only the deep backbone stages + new layers (paper, with pretrained weights)"
    )
    epochs: int = _field(6, "stage-1 epochs (classifier)")
    batch_size: int = _field(32, "images per step")
    accumulation: int = _field(1, "gradient accumulation steps (paper: 3, for an effective 96)")
    lr: float = _field(1e-3, "stage-1 Adam learning rate (paper: 3e-4)")
    betas: list[float] = _field([0.9, 0.9], "Adam betas (paper: 0.9, 0.9)")
    plateau_patience: int = _field(6, "ReduceLROnPlateau patience on validation macro-AUROC")
    min_lr: float = _field(1e-7, "ReduceLROnPlateau floor")
    pcm_epochs: int = _field(3, "stage-2 (SEAM) epochs for the PCM")
    pcm_lr: float = _field(
        1e-3, "stage-2 Adam learning rate (paper: 1e-6; 1e-5 for EfficientNetB4)"
    )
    pcm_overrides: dict[str, list[float]] = _field(
        {}, "per-model [lr, epochs] for stage 2, e.g. EfficientNetB4"
    )
    grad_clip: float = _field(2.0, "stage-2 gradient-norm clip")
    seam_max_angle: float = _field(30.0, "SEAM rotations in [-a, a] degrees")
    heatmap_threshold: float = _field(0.7, "Q: heatmap threshold for boxes")
    prob_threshold: float = _field(0.5, "boxes only for classes predicted above this probability")
    no_finding: int = _field(5000, "No-Finding images drawn into train + val")
    val_fraction: float = _field(0.2, "validation share, split by patient")
    synthetic_patients: int = _field(900, "patients of the generated synthetic set")
    synthetic_size: int = _field(128, "image side of the generated synthetic set")
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
    skip_unreadable: bool = _field(False, "skip (and count) corrupt images instead of stopping")
    device: str = _field("auto", "'auto', 'cpu' or 'cuda'")
    seed: int = _field(0, "seeds data split, init and augmentation")
    figure_images: int = _field(6, "test images in the Fig. 7 grid")
    latency_repeats: int = _field(20, "timed forward passes per model for Table 4")

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(dataclasses.asdict(self), indent=2))


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
    # the paper's central effect on the synthetic set, under 10 minutes on 2 CPU cores
    "demo": dict(),
    # DESIGN §3: the four models of Table 1 on the real data
    "paper": dict(
        out="runs/paper",
        models=["resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4"],
        image_size=256,
        pretrained="timm",
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


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Reproduce D'Souza et al. 2022 end to end: train, SEAM, evaluate, report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoints"
    )
    defaults = RunConfig()
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if f.name == "preset":
            parser.add_argument(
                flag, choices=sorted(PRESETS), default=None, help=f.metadata["help"]
            )
        elif isinstance(value, bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=f.metadata["help"]
            )
        elif isinstance(value, list):
            kind = type(value[0]) if value else str
            parser.add_argument(flag, nargs="+", type=kind, default=None, help=f.metadata["help"])
        elif isinstance(value, dict):
            parser.add_argument(
                flag, type=json.loads, default=None, help=f.metadata["help"] + " (JSON)"
            )
        else:
            parser.add_argument(flag, type=type(value), default=None, help=f.metadata["help"])
    return parser


def resolve_config(args: argparse.Namespace) -> RunConfig:
    """Preset values, then every flag given on the command line."""
    preset = args.preset or "demo"
    values = {**PRESETS[preset], "preset": preset}
    for f in dataclasses.fields(RunConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    config = RunConfig(**values)
    if config.epochs < 1 or config.batch_size < 1 or config.accumulation < 1:
        raise SystemExit("--epochs, --batch-size and --accumulation must be >= 1")
    return config
