"""The command line of ``reproduce_paper.py``: flags with both presets' values in ``--help``,
resolution into a :class:`~cxr_paper.configuration.config.RunConfig`, and every check that can run
before any
data is generated or read: the choice-like flags (device, precision, models, weights, per-model
overrides, SEAM switches) and, with ``--resume``, the run's own ``config.json``, which a resumed
run restores rather than re-deriving from the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from cxr14_data import DIFFICULTIES
from cxr14_data.layouts import BlankPolicy, ReaderRule, UncertaintyPolicy
from cxr_paper.configuration.config import (
    CONFIG_FILE,
    PRESETS,
    RunConfig,
    preset_values,
    saved_values,
)
from cxr_paper.configuration.data_source import DataSource
from cxr_paper.configuration.map_methods import CAM_METHODS
from cxr_paper.configuration.operating_point_rule import Rule
from cxr_paper.configuration.ranges import check_numbers
from cxr_paper.configuration.seam_objective import seam_loss
from cxr_paper.errors import RunError
from cxr_paper.files.manifest import JobKind
from cxr_paper.files.out_folder import check_out
from multires_backbone import MIN_INPUT_SIZE
from multires_backbone import resolve_config as resolve_model
from pcm_seam import RENAMED_OBJECTIVES, SEAM_VARIANTS

WEIGHT_KINDS = ("none", "timm", "torchvision")
AMP_CHOICES = ("auto", "bf16", "off")
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return json.dumps(value) if value else "{}"
    return str(value) if value != "" else "''"


def get_args_parser() -> argparse.ArgumentParser:
    """The command line of ``reproduce_paper.py``: a flag per :class:`RunConfig` field (its help
    text that field's) and the run-control flags (``--resume``, ``--overwrite``,
    ``--override-config``).

    Returns:
        The parser; every default is ``None``, so that :func:`resolve_config` can tell a flag given
        from one left to the preset.
    """
    parser = argparse.ArgumentParser(
        description="Reproduce D'Souza et al. 2022 end to end: train, SEAM, evaluate, report. "
        "Each flag's help ends with its value in the demo and paper presets.",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out: its config.json is restored, finished models are kept",
    )
    parser.add_argument(
        "--override-config",
        action="store_true",
        help="with --resume: let the flags given replace the saved values, and rewrite config.json",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in an --out that holds an earlier run: its files are deleted first "
        "(without it, such an --out is refused unless --resume)",
    )
    demo, paper = preset_values("demo"), preset_values("paper")
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(RunConfig(), f.name)
        shown = f" [demo: {_show(demo[f.name])}; paper: {_show(paper[f.name])}]"
        help_text = f.metadata["help"] + ("" if f.name == "preset" else shown)
        if f.name == "preset":
            parser.add_argument(flag, choices=sorted(PRESETS), default=None, help=help_text)
        elif isinstance(value, bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif isinstance(value, list):
            kind = type(demo[f.name][0]) if demo[f.name] else str
            parser.add_argument(flag, nargs="+", type=kind, default=None, help=help_text)
        elif isinstance(value, dict):
            parser.add_argument(flag, type=json.loads, default=None, help=help_text + " (JSON)")
        else:
            parser.add_argument(flag, type=type(value), default=None, help=help_text)
    return parser


def _given(args: argparse.Namespace) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(RunConfig)]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _as_saved(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _differences(saved: dict[str, Any], given: dict[str, Any]) -> list[str]:
    return [
        f"--{name.replace('_', '-')} {_show(value)} (saved: {_show(saved.get(name))})"
        for name, value in given.items()
        if name != "out" and _as_saved(value) != saved.get(name)
    ]


def resolve_config(args: argparse.Namespace) -> RunConfig:
    """The run's configuration, validated.

    A new run: the preset's values, then every flag given; an ``--out`` that already holds files
    is refused unless ``--overwrite`` (:func:`~cxr_paper.files.out_folder.check_out`). ``--resume``:
    the run folder's ``config.json``; a flag that differs from it is refused (naming both values)
    unless ``--override-config``.

    Args:
        args: The parsed command line.

    Returns:
        The validated settings.

    Raises:
        RunError: A bad value, a flag that contradicts ``--resume``'s settings, or an ``--out``
            that may not be written.
    """
    given = _given(args)
    preset = given.get("preset") or "demo"
    out = Path(given.get("out") or preset_values(preset)["out"])
    saved_file = out / CONFIG_FILE
    saved = saved_values(out) if saved_file.is_file() else None
    override = getattr(args, "override_config", False)
    if getattr(args, "resume", False):
        if saved is None:
            raise RunError(f"--resume: {saved_file} not found; start without --resume.")
        values = dict(saved)
        changed = _differences(values, given)
        if changed and not override:
            raise RunError(
                f"--resume restores {saved_file}, and these flags differ from it: "
                f"{'; '.join(changed)}. Drop them, or pass --override-config to apply them."
            )
        values.update(given)
        if changed:
            print(f"note: --override-config: {saved_file} will record {'; '.join(changed)}")
    else:
        values = {**preset_values(preset), **given}
        check_out(
            out, resume=False, overwrite=getattr(args, "overwrite", False), job=JobKind.REPRODUCE
        )
    known = {f.name for f in dataclasses.fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in values.items() if k in known})
    validate(config)
    return config


def validate(config: RunConfig) -> None:
    """Refuse bad values now, with the allowed ones named, before any data is touched.

    Args:
        config: The settings.

    Raises:
        RunError: Naming the first setting that is out of range, unknown or inconsistent.
    """
    check_numbers(config)
    if not DEVICE_PATTERN.fullmatch(config.device):
        raise RunError(f"--device {config.device!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    if config.amp not in AMP_CHOICES:
        raise RunError(f"--amp {config.amp!r}: expected one of {list(AMP_CHOICES)}.")
    unknown = [m for m in config.cam_methods if m not in CAM_METHODS]
    if unknown or not config.cam_methods:
        raise RunError(f"--cam-methods {unknown}: expected some of {list(CAM_METHODS)}.")
    if config.synthetic_difficulty not in DIFFICULTIES:
        raise RunError(
            f"--synthetic-difficulty {config.synthetic_difficulty!r}: expected one of "
            f"{sorted(DIFFICULTIES)}."
        )
    if config.preset not in PRESETS:
        raise RunError(f"preset {config.preset!r}: expected one of {sorted(PRESETS)}.")
    for data in (config.data, *config.score_on):
        DataSource.parse(data)
    if DataSource.parse(config.data).layout == "chexlocalize":
        raise RunError(
            f"--data {config.data}: CheXlocalize holds validation and test images only; train "
            "on CheXpert (--data chexpert:...) and score with --score-on chexlocalize:... (or "
            "score_model.py --data chexlocalize:...)."
        )
    for flag, value, allowed in (
        ("--uncertainty", config.uncertainty, [p.value for p in UncertaintyPolicy]),
        ("--blank", config.blank, [p.value for p in BlankPolicy]),
        ("--views", config.views, ["frontal", "all"]),
        ("--readers", config.readers, [r.value for r in ReaderRule]),
        ("--mimic-labels", config.mimic_labels, ["chexpert", "negbio"]),
    ):
        if value not in allowed:
            raise RunError(f"{flag} {value!r}: expected one of {allowed}.")
    if not config.data:
        raise RunError(
            f"--preset {config.preset} means the real ChestX-ray14 ({len(config.models)} models, "
            f"{config.epochs} epochs): give --data /path/to/ChestX-ray14, or --data synthetic to "
            "run it on the synthetic set anyway."
        )
    if not isinstance(config.pcm_overrides, dict):
        raise RunError(
            f"--pcm-overrides {config.pcm_overrides!r}: expected a JSON object MODEL: [lr, epochs]."
        )
    named = [i.split("=", 1)[0] for i in config.pretrained + config.head_dropout if "=" in i]
    for name in {*config.models, *config.pcm_overrides, *named}:
        try:
            resolve_model(name)
        except ValueError as error:
            raise RunError(f"{error}") from None
    for model in config.models:
        weights = config.weights_for(model)
        if weights not in WEIGHT_KINDS and not Path(weights).is_file():
            raise RunError(
                f"--pretrained for {model}: {weights!r} is neither one of "
                f"{list(WEIGHT_KINDS)} nor an existing weights file."
            )
        try:
            dropout = config.head_dropout_for(model)
        except ValueError:
            raise RunError(f"--head-dropout for {model}: not a number.") from None
        if not 0 <= dropout < 1:
            raise RunError(f"--head-dropout for {model}: {dropout} is not in [0, 1).")
    if config.seam_variant not in SEAM_VARIANTS and config.seam_variant not in RENAMED_OBJECTIVES:
        raise RunError(
            f"--seam-variant {config.seam_variant!r}: expected one of {list(SEAM_VARIANTS)}."
        )
    try:
        Rule.parse(config.operating_point)
    except ValueError as error:
        raise RunError(f"--operating-point: {error}") from None
    check_input_sizes(config)
    if len(config.box_frame) != 2:
        raise RunError(f"--box-frame: expected H W > 0, got {config.box_frame}.")
    for flag in ("crop_scale", "crop_ratio", "betas"):
        if len(getattr(config, flag)) != 2:
            raise RunError(f"--{flag.replace('_', '-')}: expected two values.")
    for flag in ("crop_scale", "crop_ratio"):
        low, high = getattr(config, flag)
        if low > high:
            raise RunError(f"--{flag.replace('_', '-')} {low} {high}: expected MIN <= MAX.")


def check_input_sizes(config: RunConfig) -> None:
    """Refuse, before any training, an input size the backbones or the SEAM transform cannot
    take (SEAM's 0.3 rescale of a 64-px input gives 19 px, below the backbones' 32).

    Args:
        config: The settings (``image_size``, ``models``, SEAM's rescale).

    Raises:
        RunError: Naming the model and the size it would see.
    """
    size = config.image_size
    if size < MIN_INPUT_SIZE:
        raise RunError(f"--image-size {size}: the backbones need at least {MIN_INPUT_SIZE} px.")
    side = min(seam_loss(config).transformed_size((size, size)))
    if side < MIN_INPUT_SIZE:
        raise RunError(
            f"--seam-variant {config.seam_variant}: its transform shrinks the {size}-px input to "
            f"{side} px, below the backbones' minimum of {MIN_INPUT_SIZE} px; give a larger "
            "--image-size or another variant."
        )
