"""What the PCM does: retrain only the PCM of a finished run under named SEAM variants.

Stage 1 is not retrained: each model's classifier comes from the run's ``pretrained/`` and stays
frozen; for each variant a fresh PCM is trained with SEAM (the run's stage-2 schedule) and the test
split is scored with and without it. Writes ``ablation.json`` and ``ablation.md`` into the run
folder: per class accuracy at IoBB > 0.1 and false positives per image, their means, the CAM-only
row, and the seconds each variant took. Given several runs (the seeds of ``seed_study.py``), it
ablates each and writes ``ablation_seeds.json`` / ``ablation_seeds.md`` beside them: every
variant's difference to CAM only, per seed, mean ± sd and the pooled interval (seeds and test
patients resampled together, as ``seed_study.py``).
Run it with ``examples/ablate_pcm.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cxr_paper.configuration.cli import validate
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.deploy.pretrained import load_pretrained
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_text
from cxr_paper.files.jsonio import write_json
from cxr_paper.files.manifest import JobKind
from cxr_paper.files.out_folder import is_main_process, lock_on_main
from cxr_paper.files.typed_json import to_json
from cxr_paper.inputs.data import build_loaders
from cxr_paper.learning.pcm_training import fit_pcm
from cxr_paper.machine.distributed import init_distributed
from cxr_paper.reporting.html_report import write_html_report
from cxr_paper.reporting.study_reports import ablation_document, ablation_seeds_document
from cxr_paper.scoring.evaluation import evaluate_run
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import MEAN
from cxr_paper.scoring.kind_scores import KindScores
from cxr_paper.scoring.study import StudyRun, aggregate
from cxr_paper.scoring.study_results import Study
from multires_backbone import is_multires
from pcm_seam import PCM, SEAM_VARIANTS

#: Variants beyond the sources: the paper's objective with one of SEAM's design ideas added, as
#: (SEAMLoss arguments, whether the PCM reads the image).
EXPERIMENTS: dict[str, tuple[dict[str, Any], bool]] = {
    "paper+image": ({}, True),
    "paper+logit-msml": ({"msml_on": "refined_logits"}, False),
}
UNTRAINED = "untrained"
VARIANTS = [*SEAM_VARIANTS, *EXPERIMENTS, UNTRAINED]


def variant_config(run: RunConfig, name: str) -> RunConfig:
    """The run's configuration with the SEAM objective of variant ``name`` alone: a source's
    variant exactly, or the paper's objective plus an experiment's change (the run's own
    ``--seam-overrides`` and ``--pcm-reads-image`` do not carry over).

    Args:
        run: The run's settings.
        name: A variant of :data:`VARIANTS` or ``pcm_seam.SEAM_VARIANTS``.

    Returns:
        The settings to retrain stage 2 with.
    """
    if name in SEAM_VARIANTS:
        return dataclasses.replace(run, seam_variant=name, seam_overrides={}, pcm_reads_image=False)
    overrides, reads_image = EXPERIMENTS.get(name, ({}, False))
    return dataclasses.replace(
        run, seam_variant="paper", seam_overrides=overrides, pcm_reads_image=reads_image
    )


def get_args_parser() -> argparse.ArgumentParser:
    """The command line of ``examples/ablate_pcm.py``.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run",
        type=Path,
        nargs="+",
        required=True,
        help="a finished reproduce_paper run, or several (the seeds of one study)",
    )
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=VARIANTS, help="variants to train"
    )
    parser.add_argument(
        "--models", nargs="+", default=None, help="models of the run (default: its MultiRes ones)"
    )
    parser.add_argument("--quick", action="store_true", help="one PCM epoch (for tests)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier ablation of the run (without it, one is refused)",
    )
    return parser


ABLATION_FILES = ("ablation.json", "ablation.md", "ablation.html")
SEEDS_FILES = ("ablation_seeds.json", "ablation_seeds.md")


def check_variants(run: RunConfig, variants: list[str]) -> None:
    """Every variant's settings are valid at the run's input size, before any is trained.

    Args:
        run: The run's settings.
        variants: The variants' names.

    Raises:
        RunError: Naming the variant and its bad setting.
    """
    for variant in variants:
        try:
            validate(variant_config(run, variant))
        except RunError as error:
            raise RunError(f"variant {variant!r} cannot ablate {run.out}: {error}") from None


def check_not_written(folder: Path, names: Sequence[str], overwrite: bool) -> None:
    """Refuse to replace an earlier ablation's files unless ``--overwrite``.

    Args:
        folder: The run folder.
        names: The models to ablate.
        overwrite: Whether replacing is allowed.

    Raises:
        RunError: Naming the files.
    """
    present = [name for name in names if (folder / name).exists()]
    if present and not overwrite:
        raise RunError(
            f"{folder} already holds {', '.join(present)}; pass --overwrite to replace them."
        )


def _row(scores: KindScores, box_classes: Sequence[str]) -> dict[str, Any]:
    return {
        h: {c: scores.headline(h, c) for c in [*box_classes, MEAN]}
        for h in (Headline.ACCURACY, Headline.AFP)
    }


def ablate(
    run_dir: Path,
    variants: list[str],
    models: list[str] | None,
    quick: bool,
    tests: dict[str, Any] | None = None,
) -> dict:
    """Ablate one run; ``tests`` (if given) receives each ``"model [variant]"`` test result, and
    ``ablation.html`` in the run folder shows every variant's maps side by side.

    Args:
        run_dir: A finished run.
        variants: The variants to retrain stage 2 with.
        models: The run's models to ablate (``None``: all).
        quick: One epoch on a tenth of the training images.
        tests: Receives the test results, if given.

    Returns:
        ``ablation.json``'s value: per model, per variant, its accuracy, AFP and seconds.
    """
    tests = {} if tests is None else tests
    run = dataclasses.replace(RunConfig.load(run_dir), out=str(run_dir))
    validate(run)
    if quick:
        run = dataclasses.replace(run, pcm_epochs=1, pcm_overrides={})
    check_variants(run, variants)
    ctx = init_distributed(run.device)
    models = models or [m for m in run.models if is_multires(m)] or run.models
    results: dict[str, Any] = {"run": str(run_dir), "variants": {}, "box_classes": []}
    for name in models:
        trained = load_pretrained(run_dir / name, ctx.device)
        loaders = build_loaders(run, ctx, trained.normalization)
        model = trained.classifier
        rows: dict[str, Any] = {}
        for variant in variants:
            config = variant_config(run, variant)
            started = time.perf_counter()
            folder = run_dir / "ablation" / name / variant
            if variant == UNTRAINED:
                torch.manual_seed(config.seed)
                pcm = PCM(model.num_features).to(ctx.device)
            else:
                pcm, _ = fit_pcm(name, model, loaders, config, folder, ctx, resume=False)
            desc = f"{name} {variant}"
            test = evaluate_run(model, pcm, loaders.test, config, ctx, set(), desc, ("cam",))
            tests[f"{name} [{variant}]"] = test
            box_classes = results["box_classes"] = list(test.task.box_classes)
            rows.setdefault("CAM only", _row(test.localization["cam"], box_classes))
            rows[variant] = {
                **_row(test.localization["pcm"], box_classes),
                "seconds": time.perf_counter() - started,
            }
            print(f"{name} {variant}: mean accuracy {rows[variant]['accuracy']['mean']:.3f}")
        results["variants"][name] = rows
    if ctx.is_main:
        write_variants_page(run_dir, results, tests, run)
        write_json(results, run_dir / "ablation.json")
        document = ablation_document(results, LocalizationProtocol.of(run))
        atomic_text(run_dir / "ablation.md", document.to_markdown())
    return results


def write_variants_page(
    run_dir: Path, results: dict, tests: dict[str, Any], run: RunConfig
) -> None:
    """``ablation.html``: the tables and every test image with each variant's CAM and CAM + PCM
    (one panel per ``model [variant]``).

    Args:
        run_dir: The run folder.
        results: ``ablation.json``'s value.
        tests: Per ``"model [variant]"``, its test result.
        run: The run's settings.
    """
    patients = {
        name: patient
        for test in tests.values()
        for name, patient in zip(test.image_names, test.patients, strict=True)
    }
    write_html_report(
        run_dir / "ablation.html",
        ablation_document(results, LocalizationProtocol.of(run)),
        {key: test.viewer for key, test in tests.items()},
        patients,
        f"PCM ablation of {run_dir.name}",
        run.prob_threshold,
        run.heatmap_threshold,
        next(iter(tests.values())).task,
    )


def ablate_runs(
    runs: list[Path], variants: list[str], models: list[str] | None, quick: bool
) -> Study:
    """Ablate every run, then pool each variant's difference to CAM only over the runs.

    Args:
        runs: Finished run folders.
        variants: The variants.
        models: The models (``None``: all).
        quick: As :func:`ablate`.

    Returns:
        The pooled study of each variant's difference.
    """
    study_runs = []
    for run_dir in runs:
        tests: dict[str, Any] = {}
        with lock_on_main(run_dir, JobKind.ABLATION):
            ablate(run_dir, variants, models, quick, tests)
        saved = RunConfig.load(run_dir)
        study_runs.append(StudyRun(saved.data_seed, saved.seed, tests))
    first = RunConfig.load(runs[0])
    study = aggregate(study_runs, [], first.bootstrap_resamples, first.bootstrap_seed)
    return study


def main(args: argparse.Namespace) -> dict:
    """Ablate each ``--run`` (checked before any is trained); with several runs, pool them.

    Args:
        args: The parsed command line.

    Returns:
        One run's ``ablation.json`` value, or the pooled study's.
    """
    for run in args.run:
        config = RunConfig.load(run)  # each folder is a run, before any of them is ablated
        check_not_written(run, ABLATION_FILES, args.overwrite)
        check_variants(dataclasses.replace(config, out=str(run)), args.variants)
    main_rank = is_main_process()
    if len(args.run) > 1:
        folder = args.run[0].parent
        check_not_written(folder, SEEDS_FILES, args.overwrite)
        study = ablate_runs(args.run, args.variants, args.models, args.quick)
        if main_rank:
            write_json(to_json(study), folder / "ablation_seeds.json")
            atomic_text(
                folder / "ablation_seeds.md", ablation_seeds_document(study, args.run).to_markdown()
            )
            print(f"Ablation over seeds: {(folder / 'ablation_seeds.md').resolve()}")
        return study
    (run,) = args.run
    with lock_on_main(run, JobKind.ABLATION):
        results = ablate(run, args.variants, args.models, args.quick)
    if main_rank:
        print(f"Ablation: {(run / 'ablation.md').resolve()}")
    return results
