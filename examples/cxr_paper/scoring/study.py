"""Several runs of one preset, aggregated: training seeds apart from data seeds apart from the
test split's own sampling noise.

For each data seed (one data set, one split), the runs of every training seed score the same
test images. Per headline number the study reports each run's value, their mean ± sd across
training seeds (training noise), and a **pooled** 95 % interval of the seed mean that holds both
noises: a two-level bootstrap that, in each resample, draws the training seeds with replacement
and the test patients with replacement (the same patients for every run), and averages the drawn
runs' numbers. Paired differences (MultiRes − standard, CAM + PCM − CAM) are pooled the same way,
on the same seeds and patients, so a difference is marked only where neither a lucky seed nor a
lucky test set explains it. With several data seeds, the spread of the seed-averaged numbers
across data seeds is the data's noise.

Convention:
    Percentile intervals as in :func:`cam_boxes_iobb.bootstrap`; the seeds' draw uses
    ``numpy.random.default_rng(seed + 1)``, the patients' :func:`cam_boxes_iobb.resample_weights`
    with ``seed``. A run whose number is undefined (NaN) in a resample is left out of that
    resample's mean; the estimate is the mean over the runs as observed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from cam_boxes_iobb import Intervals, resample_weights
from cxr_paper.scoring.headlines import HEADLINES
from cxr_paper.scoring.interval_types import Difference, Interval
from cxr_paper.scoring.map_kinds import OWN_CAM, MapKind
from cxr_paper.scoring.outcome import TestResult
from cxr_paper.scoring.study_results import AcrossSeeds, SeedBlock, Study, StudyRow
from cxr_paper.scoring.uncertainty import auroc_statistic, reindex

Statistic = Callable[[np.ndarray], np.ndarray]
#: The numbers a study aggregates: the mean AUROC and, per map kind, the localization headlines.
AUROC = "mean AUROC"


#: Joins an owner (a map kind, a model) and what it owns in a study's keys:
#: ``"pcm: accuracy"``, ``"multires_resnet10t: CAM + PCM − CAM"``.
OWNER_SEP = ": "
PCM_DIFFERENCE = "CAM + PCM − CAM"


def study_key(owner: str, name: str) -> str:
    """A study's key for ``name`` of ``owner``.

    Args:
        owner: A model name or comparison.
        name: The number's name.

    Returns:
        ``"owner: name"``.

    Examples:
        >>> study_key("pcm", "accuracy"), owner_of(study_key("pcm", "accuracy"))
        ('pcm: accuracy', 'pcm')
    """
    return f"{owner}{OWNER_SEP}{name}"


def owner_of(key: str) -> str:
    """The owner a :func:`study_key` names (a key without one is its own owner).

    Args:
        key: A study key.

    Returns:
        The owner part.
    """
    return key.split(OWNER_SEP, 1)[0]


@dataclass(frozen=True)
class StudyRun:
    """One finished run of the study: its seeds and each model's test result.

    Attributes:
        data_seed: The seed of the data split.
        seed: The training seed.
        tests: Per model name, its test result.
    """

    data_seed: int
    seed: int
    tests: dict[str, TestResult]


def _statistics(test: TestResult, reference: list[str], box_reference: dict[str, list[str]]):
    """``{number: statistic over weights on the reference images}`` for one run's model."""
    to_run = reindex(reference, test.image_names)
    auroc = auroc_statistic(test.labels, test.probs)
    stats: dict[str, Statistic] = {AUROC: lambda w: auroc(to_run(w))[:, -1]}
    for kind, scores in test.scores.items():
        to_scores = reindex(box_reference[kind], scores.image_names)
        for h, headline in enumerate(HEADLINES):
            stats[study_key(kind, headline)] = partial(_headline_of, scores, to_scores, h)
    return stats


def _headline_of(scores, to_scores, h: int, weights):
    """Headline ``h``'s mean over the box classes, under weights on the reference images."""
    return scores.headline(to_scores(weights))[:, h, -1]


def _patients(test: TestResult, names: list[str]) -> list[int]:
    patient = {n: p for n, p in zip(test.image_names, test.patients, strict=True)}
    for scores in test.scores.values():
        patient.update(zip(scores.image_names, scores.patients, strict=True))
    return [patient[n] for n in names]


def aggregate(
    runs: Sequence[StudyRun],
    pairs: Sequence[tuple[str, str]],
    n_resamples: int = 1000,
    seed: int = 0,
) -> Study:
    """A seed study's numbers, training seeds apart from data seeds apart from test patients.

    Args:
        runs: every finished run, each with its data seed, training seed and test results.
        pairs: ``(model a, model b)`` pairs whose difference ``a − b`` is aggregated too.
        n_resamples: two-level bootstrap resamples (seeds and patients drawn together).
        seed: seed of the resamples.

    Returns:
        Per data seed each number's values per training seed, mean ± sd and pooled interval,
        the same for each paired difference (and CAM + PCM − CAM); each number across data seeds.
    """
    blocks: dict[int, SeedBlock] = {}
    for data_seed in sorted({r.data_seed for r in runs}):
        group = sorted((r for r in runs if r.data_seed == data_seed), key=lambda r: r.seed)
        first = group[0].tests
        models = [m for m in first if all(m in r.tests for r in group)]
        numbers, differences = {}, {}
        for model in models:
            reference = first[model].image_names
            boxes = {v: s.image_names for v, s in first[model].scores.items()}
            per_run = [_statistics(r.tests[model], reference, boxes) for r in group]
            patients = {AUROC: _patients(first[model], reference)}
            patients.update(
                {
                    study_key(v, h): _patients(first[model], names)
                    for v, names in boxes.items()
                    for h in HEADLINES
                }
            )
            numbers[model] = {
                name: _row([s[name] for s in per_run], patients[name], group, n_resamples, seed)
                for name in per_run[0]
            }
            pcm, cam = MapKind(OWN_CAM, True).key, OWN_CAM
            if pcm in boxes and cam in boxes:
                differences[study_key(model, PCM_DIFFERENCE)] = {
                    h: _row(
                        [_minus(s[study_key(pcm, h)], s[study_key(cam, h)]) for s in per_run],
                        patients[study_key(cam, h)],
                        group,
                        n_resamples,
                        seed,
                        difference=True,
                    )
                    for h in HEADLINES
                }
        for a, b in pairs:
            if a not in models or b not in models:
                continue
            reference = first[a].image_names
            boxes = {v: s.image_names for v, s in first[a].scores.items()}
            stats_a = [_statistics(r.tests[a], reference, boxes) for r in group]
            stats_b = [_statistics(r.tests[b], reference, boxes) for r in group]
            differences[f"{a} − {b}"] = {
                name: _row(
                    [_minus(sa[name], sb[name]) for sa, sb in zip(stats_a, stats_b, strict=True)],
                    _patients(first[a], reference if name == AUROC else boxes[owner_of(name)]),
                    group,
                    n_resamples,
                    seed,
                    difference=True,
                )
                for name in stats_a[0]
                if name in stats_b[0]
            }
        blocks[data_seed] = SeedBlock(numbers, differences)
    return Study(blocks, _across(blocks))


def _minus(a: Statistic, b: Statistic) -> Statistic:
    return lambda w: a(w) - b(w)


def _row(
    stats: list[Statistic],
    patients: list[int],
    group: Sequence[StudyRun],
    n_resamples: int,
    seed: int,
    difference: bool = False,
) -> StudyRow:
    ones = np.ones((1, len(patients)))
    values = [float(s(ones)[0]) for s in stats]
    pooled = _two_level(stats, values, patients, n_resamples, seed)
    finite = [v for v in values if not np.isnan(v)]
    return StudyRow(
        seeds=[r.seed for r in group],
        values=values,
        mean=float(np.mean(finite)) if finite else None,
        sd=float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
        pooled=Difference.of(pooled) if difference else Interval.of(pooled),
    )


def _two_level(
    stats: list[Statistic],
    values: list[float],
    patients: list[int],
    n_resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> Intervals:
    """Percentile interval of the seed mean, resampling training seeds and test patients."""
    weights = resample_weights(patients, n_resamples, seed)
    per_run = np.stack([np.asarray(s(weights), dtype=np.float64) for s in stats])  # (S, R)
    drawn = np.random.default_rng(seed + 1).integers(len(stats), size=(n_resamples, len(stats)))
    samples = per_run[drawn, np.arange(n_resamples)[:, None]]  # (R, S): run drawn[r, j] at r
    tail = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "(Mean of empty slice|All-NaN)", RuntimeWarning)
        means = np.nanmean(samples, axis=1)
        low, high = np.nanquantile(means, [tail, 1 - tail])
        estimate = np.nanmean(values) if not np.isnan(values).all() else np.nan
    undefined = np.asarray(int(np.isnan(means).sum()))
    return Intervals(
        np.asarray(estimate), np.asarray(low), np.asarray(high), undefined, confidence, n_resamples
    )


def _across(per_data_seed: dict[int, SeedBlock]) -> dict[str, dict[str, AcrossSeeds]]:
    """Mean and sd across data seeds of each number's mean over training seeds."""
    across: dict[str, dict[str, AcrossSeeds]] = {}
    for section in ("numbers", "differences"):
        blocks = [getattr(block, section) for block in per_data_seed.values()]
        keys = {
            (owner, name) for rows in blocks for owner, by_name in rows.items() for name in by_name
        }
        for owner, name in sorted(keys):
            means = [
                row.mean
                for rows in blocks
                if (row := rows.get(owner, {}).get(name)) is not None and row.mean is not None
            ]
            across.setdefault(owner, {})[name] = AcrossSeeds(
                len(means),
                float(np.mean(means)) if means else None,
                float(np.std(means, ddof=1)) if len(means) > 1 else None,
            )
    return across
