"""A seed study: one preset trained and evaluated over several seeds, then aggregated, to say how
much of each number is noise.

Each (data seed, training seed) is an ordinary run of :mod:`cxr_paper.jobs.reproduce` in
``OUT/data{D}_seed{S}`` (resumed if it exists, so an interrupted study continues where it
stopped); every run of a data seed reads one generated synthetic set (``OUT/data/``) or the
``--data`` folder given after ``--``. Then ``study.json`` and ``study.md``: each headline number's
value per run, mean ± sd across training seeds, and the pooled interval of the seed mean (seeds
and test patients resampled together, :mod:`cxr_paper.scoring.study`); the paired differences
(MultiRes − standard, CAM + PCM − CAM) likewise, marked where the pooled interval excludes 0.
Run it with ``examples/seed_study.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from pathlib import Path
from typing import Any

from cxr_paper.configuration.cli import get_args_parser as run_args_parser
from cxr_paper.configuration.cli import preset_values, validate
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.ranges import SEED, check_flags
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_text
from cxr_paper.files.jsonio import write_json
from cxr_paper.files.manifest import JobKind
from cxr_paper.files.out_folder import is_main_process, lock_on_main
from cxr_paper.files.typed_json import to_json
from cxr_paper.inputs.models import model_pairs
from cxr_paper.inputs.synthetic_sets import ensure_synthetic
from cxr_paper.jobs import reproduce
from cxr_paper.reporting.study_reports import study_document
from cxr_paper.scoring.model_metrics import ModelMetrics
from cxr_paper.scoring.results import ModelResult
from cxr_paper.scoring.study import StudyRun, aggregate
from cxr_paper.scoring.study_results import Study
from cxr_paper.scoring.training_noise import summarize_runs


def get_args_parser() -> argparse.ArgumentParser:
    """The command line of ``examples/seed_study.py`` (run flags follow ``--``).

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Flags after -- go to every reproduce_paper.py run (e.g. -- --preset smoke).",
    )
    parser.add_argument("--out", type=Path, required=True, help="the study's folder")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="training seeds")
    parser.add_argument(
        "--data-seeds", type=int, nargs="+", default=[0], help="data seeds (synthetic set, split)"
    )
    parser.add_argument(
        "--aggregate-only", action="store_true", help="aggregate the finished runs, train nothing"
    )
    return parser


#: Number flags and their ranges (:func:`cxr_paper.configuration.cli.check_flags`).
NUMBER_FLAGS = {"seeds": (SEED, True), "data_seeds": (SEED, True)}


def run_folder(out: Path, data_seed: int, seed: int) -> Path:
    """The folder of one (data seed, training seed) run.

    Args:
        out: The study folder.
        data_seed: The data seed.
        seed: The training seed.

    Returns:
        ``out/data<D>_seed<S>``.
    """
    return out / f"data{data_seed}_seed{seed}"


def _run_config(run_flags: list[str]) -> RunConfig:
    """The preset and flags every run shares (no folder is read)."""
    args = run_args_parser().parse_args(run_flags)
    given = {
        k: v for k, v in vars(args).items() if v is not None and k in RunConfig.__annotations__
    }
    values = {**preset_values(given.get("preset") or "demo"), **given}
    return RunConfig(**{k: v for k, v in values.items() if k in RunConfig.__annotations__})


def data_for(out: Path, config: RunConfig) -> str:
    """The data folder of one data seed: the shared generated set, or the user's folder.

    Args:
        out: The study folder.
        config: One run's settings.

    Returns:
        The ``--data`` value.
    """
    if config.data != "synthetic":
        return config.data
    return str(ensure_synthetic(config, out / "data"))


def run_all(out: Path, seeds: list[int], data_seeds: list[int], run_flags: list[str]) -> None:
    """Run, or resume, every (data seed, training seed) run of the study.

    Args:
        out: The study folder.
        seeds: Training seeds.
        data_seeds: Data seeds.
        run_flags: Flags for ``reproduce_paper.py``.
    """
    base = _run_config(run_flags)
    for data_seed in data_seeds:
        config = RunConfig(**{**base.__dict__, "data_seed": data_seed})
        data = data_for(out, config)
        for seed in seeds:
            folder = run_folder(out, data_seed, seed)
            flags = [*run_flags, "--out", str(folder), "--seed", str(seed)]
            flags += ["--data-seed", str(data_seed), "--data", data]
            if (folder / "config.json").is_file():
                flags.append("--resume")
            started = time.perf_counter()
            print(f"== data seed {data_seed}, training seed {seed}: {folder}")
            reproduce.main(run_args_parser().parse_args(flags))
            print(f"== {folder}: {(time.perf_counter() - started) / 60:.1f} min")


def load_runs(out: Path, seeds: list[int], data_seeds: list[int]) -> list[StudyRun]:
    """Every run's finished models' test results (a run with none is refused).

    Args:
        out: The study folder.
        seeds: Training seeds.
        data_seeds: Data seeds.

    Returns:
        The finished runs.

    Raises:
        RunError: A run with no finished model.
    """
    runs = []
    for data_seed in data_seeds:
        for seed in seeds:
            folder = run_folder(out, data_seed, seed)
            if not folder.is_dir():
                raise RunError(f"{folder}: no such run; run the study without --aggregate-only.")
            tests = {}
            for model_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
                result = ModelResult.load(model_dir)
                if result is not None:
                    tests[model_dir.name] = result.test
            if not tests:
                raise RunError(f"{folder} holds no finished model; run the study first.")
            runs.append(StudyRun(data_seed, seed, tests))
    return runs


def main(args: argparse.Namespace, run_flags: list[str]) -> Study:
    """Run (or continue) every seed's run, then aggregate; the study folder is held by one
    study at a time (its runs, each in its own folder, by theirs).

    Args:
        args: The study's flags.
        run_flags: Flags for every run.

    Returns:
        The aggregate.
    """
    check_flags(args, NUMBER_FLAGS)
    validate(_run_config(run_flags))  # every run's flags, before the study folder is made
    with lock_on_main(args.out, JobKind.SEED_STUDY):
        return study(args, run_flags)


NOISE_FILE = "noise.json"


def finished_run(folder: Path) -> tuple[str, dict[str, Any], dict[str, ModelMetrics]] | None:
    """A study run read through the validating loaders (:meth:`RunConfig.load`,
    :meth:`ModelResult.load`): ``(name, config, metrics)``, ``None`` if a model is unfinished.

    Args:
        folder: A run folder.

    Returns:
        ``(name, config, metrics)`` or ``None``.
    """
    config = RunConfig.load(folder)
    metrics = {}
    for model in config.models:
        result = ModelResult.load(folder / model)
        if result is None:
            return None
        metrics[model] = result.metrics()
    return folder.name, dataclasses.asdict(config), metrics


def noise_summary(out: Path, run_flags: list[str], started: float) -> dict[str, Any]:
    """Training noise over every finished run in ``out`` (all data and training seeds run so
    far, :func:`cxr_paper.scoring.training_noise.summarize_runs`), with how and where it was
    measured:
    the file a preset's committed ``cxr_paper/noise/<preset>.json`` is a copy of.

    Args:
        out: The study folder.
        run_flags: Flags every run got.
        started: ``time.time()`` at the start.

    Returns:
        The summary, JSON-ready.
    """
    folders = sorted(p.parent for p in out.glob("data*_seed*/report.md"))
    loaded = [(folder, finished_run(folder)) for folder in folders]
    finished = [(folder, run) for folder, run in loaded if run is not None]
    if not finished:
        raise RunError(f"{out} holds no finished run; run the study first.")
    try:
        summary = summarize_runs(run for _, run in finished)
    except ValueError as error:
        raise RunError(str(error)) from None
    first_metrics = finished[0][1][2]
    return {
        "command": "python examples/seed_study.py --out OUT --seeds ... --data-seeds ... -- "
        + " ".join(run_flags),
        "runs": [folder.name for folder, _ in finished],
        "environment": next(iter(first_metrics.values())).environment,
        "minutes_per_run": run_minutes([folder for folder, _ in finished]),
        "aggregation_minutes": (time.perf_counter() - started) / 60,
        **summary,
    }


WALL_TIME = re.compile(r"wall time (\d+(?:\.\d+)?) min")


def run_minutes(runs: list[Path]) -> dict[str, float]:
    """Each run's wall time as its report states it (a report without one is refused).

    Args:
        runs: Run folders.

    Returns:
        Per run folder's name, its minutes.

    Raises:
        RunError: A report unreadable or without its wall-time line.
    """
    minutes = {}
    for run in runs:
        report = run / "report.md"
        try:
            found = WALL_TIME.search(report.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise RunError(f"{report}: cannot be read ({error}).") from None
        if found is None:
            raise RunError(
                f"{report}: no 'wall time N min' line (edited by hand?); rerun that run's "
                "report with reproduce_paper.py --resume."
            )
        minutes[run.name] = float(found.group(1))
    return minutes


def study(args: argparse.Namespace, run_flags: list[str]) -> Study:
    """Run what is missing, aggregate, and write ``study.json``, ``study.md`` and the noise file.

    Args:
        args: The study's flags.
        run_flags: Flags for every run.

    Returns:
        The aggregate.
    """
    started = time.perf_counter()
    if not args.aggregate_only:
        run_all(args.out, args.seeds, args.data_seeds, run_flags)
    runs = load_runs(args.out, args.seeds, args.data_seeds)
    base = _run_config(run_flags)
    models = sorted({m for r in runs for m in r.tests})
    bootstrap_started = time.perf_counter()
    result = aggregate(runs, model_pairs(models), base.bootstrap_resamples, base.bootstrap_seed)
    config = {
        "seeds": args.seeds,
        "data_seeds": args.data_seeds,
        "runs": len(runs),
        "resamples": base.bootstrap_resamples,
        "run_flags": run_flags,
        "aggregation_seconds": time.perf_counter() - bootstrap_started,
        "study_minutes": (time.perf_counter() - started) / 60,
    }
    if is_main_process():
        write_json(noise_summary(args.out, run_flags, started), args.out / NOISE_FILE)
        write_json({"config": config, **to_json(result)}, args.out / "study.json")
        atomic_text(args.out / "study.md", study_document(result, config).to_markdown())
        print(f"Study: {(args.out / 'study.md').resolve()}")
    return result


def parse_command_line(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The study's own flags, and those after ``--`` that go to every run.

    Args:
        argv: The command line after the script's name.

    Returns:
        ``(study flags, run flags)``.
    """
    split = argv.index("--") if "--" in argv else len(argv)
    return get_args_parser().parse_args(argv[:split]), argv[split + 1 :]
