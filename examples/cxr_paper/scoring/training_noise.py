"""How much of a number is training noise: what a committed seed study measured, and what one
run's report can say with it.

A run's intervals resample its test patients: they say how far a number would move on another
draw of test images from the same population, not on a retrained model. Retraining with another
seed, or on another machine (which rounds differently and so trains to other weights), moves it
too. :func:`summarize_runs` measures both from a seed study's runs (``seed_study.py``): per
number, the training sd (pooled over data seeds, across training seeds), the test-set sd (from
each run's interval), the sd across data seeds, and the share of the total variance that training
contributes. The summary of the demo preset's study ships as ``noise/demo.json``;
:func:`noise_for` finds the one for a run's settings, and :func:`judge` says whether a paired
difference stands out of both noises, of the test set's only, or of neither.

Convention:
    A 95 % interval's sd is ``(high - low) / (2 * 1.96)``. A difference is a finding when
    ``|estimate| > 1.96 * sqrt(sd_test**2 + sd_training**2)``; "test noise only" when its interval
    excludes 0 but that fails.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cxr_paper.configuration.config import preset_values
from cxr_paper.scoring.interval_types import MEAN, Difference, Interval, Z
from cxr_paper.scoring.model_metrics import ModelMetrics, NoiseNote, NumberNoise, StudyFile

NOISE_FOLDER = Path(__file__).parents[1] / "noise"  # data beside the code, not in it
SEP = " · "
#: Settings a study's noise carries over between: every run setting but these.
FREE_SETTINGS = {
    "seed",
    "data_seed",
    "out",
    "device",
    "workers",
    "bootstrap_resamples",
    "bootstrap_seed",
    "latency_repeats",
    "figure_images",
    "checkpoint_every",
    "cache",
    "skip_unreadable",
    "skip_bad_boxes",
    "reproducible",
    "amp",
    "compile",
    # what the saved model decides and reports, chosen after training: not the training's noise
    "operating_point",
    "temperature_scaling",
}
INTERVALS_COVER = (
    "test patients only (patient-level bootstrap of the test split); retraining with another "
    "seed or on another machine is not in them"
)
Verdict = Literal["finding", "test noise only", "none"]


def flatten(entry: ModelMetrics, model: str) -> dict[str, Interval]:
    """Every headline interval of one model's ``metrics.json`` entry, by a readable key:
    ``"m · AUROC"``, ``"m · cam · accuracy"``, ``"m · pcm - cam · accuracy"``,
    ``"a - b · AUROC"``, ``"a - b · cam · accuracy"``.

    Args:
        entry: One model's ``metrics.json`` entry.
        model: Its name.

    Returns:
        Per key, the interval.
    """
    numbers: dict[str, Interval] = {}
    if MEAN in entry.intervals.auroc:
        numbers[f"{model}{SEP}AUROC"] = entry.intervals.auroc[MEAN]
    for kind, headlines in entry.intervals.localization.items():
        for headline, by_class in headlines.items():
            if MEAN in by_class:
                numbers[SEP.join((model, kind, headline))] = by_class[MEAN]
    for comparison, body in entry.model_differences().items():
        if MEAN in body.auroc:
            numbers[f"{comparison}{SEP}AUROC"] = body.auroc[MEAN]
        for kind, headlines in body.localization.items():
            for headline, value in headlines.items():
                numbers[SEP.join((comparison, kind, headline))] = value
    for comparison, differences in entry.kind_differences().items():
        for headline, value in differences.items():
            numbers[SEP.join((model, comparison, headline))] = value
    return numbers


def _finite(*values: Any) -> bool:
    """All given values are numbers, not ``None`` (JSON's NaN) or NaN."""
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def summarize_runs(
    runs: Iterable[tuple[str, Mapping[str, Any], Mapping[str, ModelMetrics]]],
) -> dict[str, Any]:
    """The noise summary of a seed study's finished runs, each ``(name, config, metrics)`` (its
    ``config.json`` values and ``metrics.json``, read by their validating loaders): per number,
    mean, training sd, test-set sd, data-seed sd, training share.

    Args:
        runs: ``(name, config, metrics)`` of each finished run.

    Returns:
        JSON-ready ``{"settings", "training_seeds", "numbers"}``; ``numbers`` per key (see
        :func:`flatten`) its ``mean``, ``training_sd``, ``test_sd``, ``data_seed_sd``,
        ``training_share`` and ``runs``.
    """
    values: dict[str, dict[int, list[float]]] = {}
    test_variances: dict[str, list[float]] = {}
    seeds: dict[int, list[int]] = {}
    settings: dict[str, Any] | None = None
    for run, config, metrics in runs:
        shared = shared_settings(config)
        if settings is not None and shared != settings:
            raise ValueError(f"{run}: other settings than the study's other runs.")
        settings = shared
        seeds.setdefault(config["data_seed"], []).append(config["seed"])
        for model, entry in metrics.items():
            for key, interval in flatten(entry, model).items():
                if not interval.known:
                    continue
                by_data = values.setdefault(key, {}).setdefault(config["data_seed"], [])
                by_data.append(interval.estimate)
                test_variances.setdefault(key, []).append(interval.sd**2)
    numbers = {}
    for key, by_data in values.items():
        groups = [np.asarray(v, dtype=float) for v in by_data.values()]
        dof = sum(len(g) - 1 for g in groups)
        train_var = sum(((g - g.mean()) ** 2).sum() for g in groups) / dof if dof else math.nan
        test_var = float(np.nanmean(test_variances[key]))
        means = [g.mean() for g in groups]
        numbers[key] = {
            "mean": float(np.mean(np.concatenate(groups))),
            "training_sd": math.sqrt(train_var),
            "test_sd": math.sqrt(test_var),
            "data_seed_sd": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
            "training_share": (
                train_var / (train_var + test_var) if train_var + test_var > 0 else math.nan
            ),
            "runs": int(sum(len(g) for g in groups)),
        }
    return {
        "settings": settings or {},
        "training_seeds": {str(k): sorted(v) for k, v in sorted(seeds.items())},
        "numbers": numbers,
    }


def noise_for(config: Mapping[str, Any], folder: Path = NOISE_FOLDER) -> dict[str, Any] | None:
    """The committed noise summary measured with ``config``'s settings (seeds and paths aside),
    or ``None`` when none was.

    Args:
        config: A run's ``config.json`` values.
        folder: Where the committed summaries are.

    Returns:
        The summary, or ``None``.
    """
    path = folder / f"{config.get('preset')}.json"
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    if not isinstance(summary.get("settings"), dict):
        return None
    # a setting added after the study was measured counts at its preset's value
    defaults = shared_settings(preset_values(str(config.get("preset"))))
    measured = {**defaults, **summary["settings"]}
    return summary if {**defaults, **shared_settings(config)} == measured else None


def shared_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a study's noise is tied to: all but :data:`FREE_SETTINGS`, with a generated
    synthetic set's folder (``seed_study.py`` passes its path) read as ``"synthetic"``.

    Args:
        config: A run's ``config.json`` values.

    Returns:
        The settings that must match a study's.
    """
    shared = {k: v for k, v in config.items() if k not in FREE_SETTINGS}
    if Path(str(shared.get("data", ""))).name.startswith("synthetic_"):
        shared["data"] = "synthetic"
    return shared


def judge(difference: Difference | None, training_sd: float | None) -> Verdict:
    """Whether a paired difference stands out of test and training noise (``"finding"``), of
    the test set's only, or of neither.

    Args:
        difference: The paired difference, or ``None``.
        training_sd: Its sd across training seeds, or ``None`` when unknown.

    Returns:
        ``"finding"``, ``"test noise only"`` or ``"none"``.

    Examples:
        >>> difference = Difference(0.10, 0.05, 0.15, 0.95, 1000, excludes_zero=True)
        >>> judge(difference, 0.02), judge(difference, 0.08)
        ('finding', 'test noise only')
    """
    if difference is None or not difference.excludes_zero:
        return "none"
    if training_sd is None or math.isnan(training_sd):
        return "finding"  # no study for these settings: only the test set's noise is known
    combined = math.hypot(difference.sd, training_sd)
    return "finding" if abs(difference.estimate) > Z * combined else "test noise only"


def annotate(
    metrics: dict[str, ModelMetrics], config: Mapping[str, Any], folder: Path = NOISE_FOLDER
) -> tuple[dict[str, ModelMetrics], dict[str, Any] | None]:
    """Each model's ``metrics.json`` entry with what its intervals cover and, when a study
    measured these settings, each number's training sd and the range a rerun with another seed
    or machine is expected to fall in (mean ± 1.96 training sd of the study); and the study's
    summary (``None`` without one).

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        config: The run's ``config.json`` values.
        folder: Where the committed summaries are.

    Returns:
        ``(metrics, summary)``: the entries with their :class:`NoiseNote`, and the study's summary.
    """
    summary = noise_for(config, folder)
    annotated = {}
    for model, entry in metrics.items():
        note = NoiseNote(INTERVALS_COVER)
        if summary is not None:
            study = StudyFile(
                f"cxr_paper/noise/{config.get('preset')}.json",
                sum(len(v) for v in summary["training_seeds"].values()),
            )
            numbers = {
                key: NumberNoise(
                    known["training_sd"],
                    known["training_share"],
                    (
                        known["mean"] - Z * known["training_sd"],
                        known["mean"] + Z * known["training_sd"],
                    ),
                )
                for key in flatten(entry, model)
                if (known := summary["numbers"].get(key)) is not None
                and _finite(known.get("training_sd"), known.get("training_share"))
            }
            note = NoiseNote(INTERVALS_COVER, study, numbers)
        annotated[model] = replace(entry, noise=note)
    return annotated, summary
