"""The paper end to end: stage 1 trains each classifier with the dynamically weighted BCE, stage
2 trains its PCM with SEAM over the frozen classifier, evaluation scores the test split with and
without the PCM (Tables 1-4, Figures 5-7, a report).

Every model's weights are checked before any data is read; the report, ``metrics.json`` and the
figures are rewritten as each model finishes (:mod:`cxr_paper.reporting.run_outputs`), and
``--resume`` keeps the finished models. Run it with ``examples/reproduce_paper.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import torch

from cxr14_data import IMAGENET_MEAN, IMAGENET_STD, ImageDecodeError
from cxr_paper.configuration.cli import resolve_config
from cxr_paper.configuration.config import RunConfig
from cxr_paper.errors import RunError
from cxr_paper.files.manifest import JobKind
from cxr_paper.files.out_folder import claim
from cxr_paper.inputs.data import Loaders, build_loaders, config_task
from cxr_paper.inputs.models import check_weights
from cxr_paper.jobs.model_training import Normalization, finished_model, train_and_evaluate
from cxr_paper.jobs.score_elsewhere import score_elsewhere
from cxr_paper.machine import reproducible
from cxr_paper.machine.distributed import DistContext, barrier, init_distributed, shutdown
from cxr_paper.machine.runtime import KILL_AFTER_MODELS_ENV, maybe_kill
from cxr_paper.reporting.run_outputs import choose_figure_images, write_outputs
from cxr_paper.scoring.results import ModelResult


def unreadable_message(error: BaseException) -> str:
    """One line naming the file (a DataLoader worker's error carries a traceback in its text).

    Args:
        error: The error an image raised.

    Returns:
        One line.
    """
    lines = [line for line in str(error).splitlines() if line.strip()]
    detail = (lines[-1] if lines else repr(error)).split("ImageDecodeError: ", 1)[-1]
    return (
        f"{detail} -- find every unreadable image first with `python -m cxr14_data stats "
        "ROOT --verify`, or pass --skip-unreadable to skip them and list them in the report."
    )


def main(args: argparse.Namespace) -> Path:
    """Run the paper end to end with ``reproduce_paper.py``'s arguments; the report's path.

    Args:
        args: The parsed command line.

    Returns:
        ``report.md``'s path.
    """
    started = time.perf_counter()
    config = resolve_config(args)
    if config.reproducible:
        enter_reproducible_mode(config)
    ctx = init_distributed(config.device)
    try:
        return run(config, ctx, args.resume, started, getattr(args, "overwrite", False))
    except ImageDecodeError as error:
        raise RunError(unreadable_message(error)) from None
    finally:
        shutdown(ctx)


def enter_reproducible_mode(config: RunConfig) -> None:
    """``--reproducible``: re-execute this script with the mode's environment if it started
    without it, then switch PyTorch into the mode (:mod:`cxr_paper.machine.reproducible`).

    Args:
        config: The run's settings.

    Raises:
        RunError: The mode asked of a GPU, or of a process that cannot re-execute itself.
    """
    if config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available()):
        raise RunError("--reproducible is a CPU mode: run it with --device cpu on a CPU machine.")
    missing = reproducible.missing_environment()
    started_as_script = getattr(sys.modules["__main__"], "__spec__", None) is None
    if missing and not (started_as_script and sys.argv[0].endswith(".py")):
        assignments = " ".join(f"{k}={v}" for k, v in reproducible.ENVIRONMENT.items())
        raise RunError(f"--reproducible from inside Python: start the process with {assignments}.")
    reproducible.ensure_environment(sys.argv)
    reproducible.apply()


def run(
    config: RunConfig, ctx: DistContext, resume: bool, started: float, overwrite: bool = False
) -> Path:
    """Check every model's weights, then (rank 0 holding ``--out``'s lock) train and report.

    Args:
        config: The run's settings.
        ctx: The process's context.
        resume: Continue the run in ``--out``.
        started: ``time.time()`` at the start.
        overwrite: Replace an earlier run's files.

    Returns:
        ``report.md``'s path.
    """
    normalization: dict[str, Normalization] = {
        m: (IMAGENET_MEAN, IMAGENET_STD) for m in config.models
    }
    if any(config.weights_for(m) != "none" for m in config.models):
        normalization.update(check_weights(config, len(config_task(config).classes)))
    # one writer per run folder, taken before anything is written; the other ranks compute
    held = (
        claim(Path(config.out), resume=resume, overwrite=overwrite, job=JobKind.REPRODUCE)
        if ctx.is_main
        else contextlib.nullcontext()
    )
    with held:
        return run_models(config, ctx, resume, started, normalization)


def run_models(
    config: RunConfig,
    ctx: DistContext,
    resume: bool,
    started: float,
    normalization: dict[str, Normalization],
) -> Path:
    """Train, evaluate and report each model of the run (finished ones kept with ``resume``).

    Args:
        config: The run's settings.
        ctx: The process's context.
        resume: Keep finished models.
        started: ``time.time()`` at the start.
        normalization: Per model, its ``(mean, std)``.

    Returns:
        ``report.md``'s path.
    """
    out = Path(config.out)
    torch.manual_seed(config.seed)
    loaders: dict[Normalization, Loaders] = {}

    def loaders_for(norm: Normalization) -> Loaders:
        if norm not in loaders:
            loaders[norm] = build_loaders(config, ctx, norm)
        return loaders[norm]

    # every finished model read (and refused, naming the file) before anything is written
    finished = {name: finished_model(out / name) for name in config.models} if resume else {}
    first = loaders_for(normalization[config.models[0]])
    figure_images = choose_figure_images(first.dataset("test"), config.figure_images)
    if ctx.is_main:  # the data is there and fits: the folder now holds this run
        config.save(out)
    results: dict[str, ModelResult] = {}
    for position, name in enumerate(config.models, start=1):
        saved = finished.get(name)
        if saved is not None:
            results[name] = saved
            print(f"{name}: finished in an earlier session, kept")
        else:
            results[name] = train_and_evaluate(
                name,
                config,
                loaders_for(normalization[name]),
                normalization[name],
                ctx,
                resume,
                set(figure_images),
            )
            if ctx.is_main:
                results[name].save(out / name)
        if ctx.is_main:
            write_outputs(config, out, results, figure_images, first, started, ctx)
        barrier(ctx)
        maybe_kill(KILL_AFTER_MODELS_ENV, position)
    if config.score_on:
        elsewhere = score_elsewhere(config, ctx)
        if ctx.is_main:
            write_outputs(config, out, results, figure_images, first, started, ctx, elsewhere)
    report = out / "report.md"
    if ctx.is_main:
        print(f"Report: {report.resolve()}")
    return report
