"""Score any classifier's localization on a ChestX-ray14 folder's boxes (or the synthetic set):
this project's models (PyTorch or exported ONNX), a timm model or a torchxrayvision DenseNet,
with any CAM method.

The test split is scored as :mod:`cxr_paper.jobs.reproduce` scores it (AUROC, accuracy at IoBB >
0.1 and false positives at the preset's Q (the paper's 0.7), MaxBoxAccV2, the pointing game,
each with its patient-bootstrap 95 % interval) into ``score.md``, ``score.json``,
``test_records.npz`` and ``report.html`` in ``--out``. A saved model of this project is also
scored with its PCM; other models with one Grad-CAM-family method at their last feature stage,
all classes in one batched backward pass. Run it with ``examples/score_model.py``.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from cxr_paper.configuration.config import RunConfig, preset_values
from cxr_paper.configuration.presets import PRESETS
from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.configuration.ranges import COUNT, NUMBER_RANGES, check_flags
from cxr_paper.deploy.model_loading import load_model
from cxr_paper.deploy.onnx_model import GraphRefinement, OnnxClassifier
from cxr_paper.deploy.pretrained import load_pretrained
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_text
from cxr_paper.files.jsonio import write_json
from cxr_paper.files.manifest import JobKind
from cxr_paper.files.out_folder import check_out, claim
from cxr_paper.files.typed_json import to_json
from cxr_paper.inputs.data import build_loaders, config_task, resolve_data_root
from cxr_paper.inputs.data_sets import data_set, seen_images_caution
from cxr_paper.machine.distributed import DistContext, init_distributed, shutdown
from cxr_paper.reporting.html_report import write_html_report
from cxr_paper.reporting.score_report import score_document
from cxr_paper.scoring.batched_cam import METHODS
from cxr_paper.scoring.chexlocalize_protocol import chexlocalize_scores
from cxr_paper.scoring.class_mapping import ClassMapping, MappedClassifier
from cxr_paper.scoring.evaluation import evaluate_test
from cxr_paper.scoring.evaluation_settings import EvaluationSettings
from cxr_paper.scoring.foreign_models import load_foreign
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.model_metrics import ModelScore
from cxr_paper.scoring.outcome import TestResult
from cxr_paper.scoring.records import save_records, save_test_maps
from cxr_paper.scoring.training_noise import INTERVALS_COVER
from cxr_paper.scoring.uncertainty import model_intervals

SCORE_FILE = "score.json"


def get_args_parser() -> argparse.ArgumentParser:
    """The command line of ``examples/score_model.py``.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model",
        required=True,
        help="timm:NAME, xrv:WEIGHTS (or xrv:none), or a saved model of this project (a run's "
        "model folder, a save_pretrained folder, a Hub id or an exported .onnx file)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help=f"maps to score: 'cam' (this project's models; with the PCM) and {list(METHODS)}; "
        "other models take one method (default: cam, or gradcam for other models)",
    )
    parser.add_argument(
        "--weights", default=None, help="timm: 'timm' (its pretrained weights) or a file"
    )
    parser.add_argument(
        "--data",
        default="synthetic",
        help="a ChestX-ray14 folder, 'synthetic', or LAYOUT:PATH of another set (its test "
        "split, the model's classes mapped to its own through the vocabulary)",
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="demo",
        help="the synthetic set's settings (and the evaluation's thresholds and seeds)",
    )
    parser.add_argument("--image-size", type=int, default=None, help="network input (px)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--bootstrap-resamples", type=int, default=1000)
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--out", type=Path, default=Path("runs/score"))
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier score in --out (without it, an --out holding files is refused)",
    )
    return parser


def rename_kind(test: TestResult, old: str, new: str) -> None:
    """Call a map kind by its method's name (a foreign model's maps are not its own CAM).

    Args:
        test: The test result; changed in place.
        old: The kind's key now.
        new: Its key after.
    """
    kind = MapKind.parse(new)
    test.localization[kind] = test.localization.pop(old)
    test.scores[kind] = test.scores.pop(old)
    if old in test.maps:  # maps/<kind>.npz is named by the kind too
        test.maps[new] = test.maps.pop(old)
    for record in test.viewer.values():
        record["kinds"][new] = record["kinds"].pop(old)


#: Number flags and their ranges (:func:`cxr_paper.configuration.cli.check_flags`).
NUMBER_FLAGS = {
    "image_size": (NUMBER_RANGES["image_size"], True),
    "batch_size": (COUNT, True),
    "bootstrap_resamples": (NUMBER_RANGES["bootstrap_resamples"], True),
}


def score(args: argparse.Namespace) -> ModelScore:
    """Score ``--model``'s maps on the test split into ``--out`` (held by one writer).

    Args:
        args: The parsed command line.

    Returns:
        What ``score.json`` holds.
    """
    check_flags(args, NUMBER_FLAGS)
    foreign = ":" in args.model and not Path(args.model).exists()  # timm:NAME, xrv:WEIGHTS
    methods = args.methods or (["gradcam"] if foreign else ["cam"])
    unknown = [m for m in methods if m not in (*METHODS, "cam")]
    if unknown:
        raise RunError(f"--methods {unknown}: expected 'cam' or some of {list(METHODS)}.")
    if foreign and (len(methods) != 1 or methods[0] == "cam"):
        raise RunError(f"--model {args.model}: give one of {list(METHODS)} in --methods.")
    overwrite = getattr(args, "overwrite", False)
    check_out(args.out, resume=False, overwrite=overwrite, job=JobKind.SCORE)
    ctx = init_distributed(args.device)
    try:
        return score_into(args, ctx)
    finally:
        shutdown(ctx)


def score_into(args: argparse.Namespace, ctx: DistContext) -> ModelScore:
    """:func:`score` in a running process group (a run scoring its models on other sets):
    ``--out`` held by rank 0 while it is written.

    Args:
        args: The parsed command line.
        ctx: The process's context.

    Returns:
        What ``score.json`` holds.
    """
    foreign = ":" in args.model and not Path(args.model).exists()  # timm:NAME, xrv:WEIGHTS
    methods = args.methods or (["gradcam"] if foreign else ["cam"])
    base = preset_values(args.preset)
    overwrite = getattr(args, "overwrite", False)
    held = (
        claim(args.out, resume=False, overwrite=overwrite, job=JobKind.SCORE)
        if ctx.is_main
        else contextlib.nullcontext()
    )
    with held:
        return _score(args, foreign, methods, base, ctx)


def _score(
    args: argparse.Namespace,
    foreign: bool,
    methods: list[str],
    base: dict[str, Any],
    ctx: DistContext,
) -> ModelScore:
    if foreign:
        task = config_task(RunConfig(**{**base, "data": args.data}))
        loaded = load_foreign(args.model, methods[0], task, args.weights)
        model, pcm, normalization = loaded.model, None, loaded.normalization
        description, image_size, evaluated = loaded.description, base["image_size"], ("cam",)
    elif args.model.endswith(".onnx"):
        if methods != ["cam"]:
            raise RunError(f"--model {args.model}: an ONNX graph has no gradients; --methods cam.")
        saved = load_model(args.model, ctx.device)
        model, pcm, normalization = (
            OnnxClassifier(saved),
            GraphRefinement(),
            saved.normalization,
        )
        model_classes = saved.classes
        description = f"`{saved.architecture}` exported to ONNX at {args.model} (onnxruntime)"
        image_size, evaluated = saved.image_size, ("cam",)
    else:
        saved = load_pretrained(args.model, ctx.device)
        model, pcm, normalization = saved.classifier, saved.pcm, saved.normalization
        description = f"`{saved.architecture}` saved at {args.model}"
        image_size, evaluated = saved.image_size, tuple(methods)
        model_classes = saved.classes
    config = RunConfig(
        **{
            **base,
            **getattr(args, "reading", {}),  # a run's --score-on: its own reading settings
            "data": args.data,
            "out": str(args.out),
            "image_size": args.image_size or image_size,
            "batch_size": args.batch_size,
            "device": args.device,
            "bootstrap_resamples": args.bootstrap_resamples,
        }
    )
    mapping = None
    if not foreign:
        data_task = config_task(config)
        mapping = ClassMapping.between(model_classes, data_task.classes, data_set(config))
        if not mapping.identity:
            model = MappedClassifier(
                model,
                mapping,
                maps_in_features=pcm is not None and isinstance(pcm, GraphRefinement),
            )
    classes = None if mapping is None or mapping.identity else mapping.classes
    loaders = build_loaders(config, ctx, normalization, classes)
    settings = EvaluationSettings.of_run(config, evaluated)
    test = evaluate_test(
        model.to(ctx.device), pcm, loaders.test, ctx, settings, desc=f"scoring {args.model}"
    )
    # CheXlocalize: its validation segmentations tune the thresholds its test ones are scored at
    tuning = data_set(config) == "chexlocalize"
    val = evaluate_test(model, pcm, loaders.val, ctx, settings, desc="val") if tuning else None
    for result in (test, val) if foreign else ():
        if result is not None:
            rename_kind(result, "cam", methods[0])
    protocol = {}
    if val is not None:
        root, _ = resolve_data_root(config)
        resamples, seed = config.bootstrap_resamples, config.bootstrap_seed
        protocol = chexlocalize_scores(val, test, root, resamples, seed)
    entry = ModelScore(
        model=args.model,
        description=description,
        data=loaders.source,
        image_size=config.image_size,
        missing_classes=list(getattr(model, "missing", [])),
        auroc=test.auroc,
        localization=test.localization,
        localization_images=test.box_images,
        task=test.task,
        intervals=model_intervals(test, config.bootstrap_resamples, config.bootstrap_seed),
        intervals_cover=INTERVALS_COVER,
        unscored_classes=list(mapping.unscored) if mapping else [],
        scored_as={k: list(v) for k, v in mapping.near.items()} if mapping else {},
        cautions=seen_images_caution(mapping, config),
        chexlocalize=protocol,
    )
    if ctx.is_main:
        write_outputs(args.out, entry, test, config)
    return entry


def write_outputs(out: Path, entry: ModelScore, test: TestResult, config: RunConfig) -> None:
    """``score.md``, ``report.html``, the records and maps, then ``score.json`` (rank 0).

    Args:
        out: The output folder.
        entry: What ``score.json`` holds.
        test: The test result.
        config: The settings it was scored with.
    """
    save_records(test, out)
    save_test_maps(test, out)
    document = score_document(entry, LocalizationProtocol.of(config))
    atomic_text(out / "score.md", document.to_markdown())
    patients = dict(zip(test.image_names, test.patients, strict=True))
    write_html_report(
        out / "report.html",
        document,
        {entry.model: test.viewer},
        patients,
        f"{entry.model} scored",
        config.prob_threshold,
        config.heatmap_threshold,
        test.task,
    )
    write_json(to_json(entry), out / SCORE_FILE)  # last: the file that says the score is complete
    print(f"Scores: {(out / 'score.md').resolve()}; browse: {(out / 'report.html').resolve()}")


def main(args: argparse.Namespace) -> ModelScore:
    """Score a model with ``score_model.py``'s arguments; the entry written to ``score.json``.

    Args:
        args: The parsed command line.

    Returns:
        What ``score.json`` holds.
    """
    return score(args)
