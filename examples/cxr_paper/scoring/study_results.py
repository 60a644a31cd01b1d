"""A seed study's aggregate as types (``study.json``, ``ablation_seeds.json``): per data seed each
number and paired difference across training seeds, and each number across data seeds
(computed by :func:`cxr_paper.scoring.study.aggregate`)."""

from __future__ import annotations

from dataclasses import dataclass

from cxr_paper.scoring.interval_types import Difference, Interval


@dataclass(frozen=True)
class StudyRow:
    """One number across the training seeds of a data seed: the seeds, each run's value, their
    mean and sd (``None`` where undefined), and the pooled interval of the mean (a
    :class:`~cxr_paper.scoring.interval_types.Difference` for a paired difference).

    Attributes:
        seeds: The training seeds.
        values: Each run's value, in ``seeds``' order.
        mean: Their mean.
        sd: Their sample sd.
        pooled: The pooled interval of the mean.
    """

    seeds: list[int]
    values: list[float]
    mean: float | None
    sd: float | None
    pooled: Difference | Interval


@dataclass(frozen=True)
class SeedBlock:
    """One data seed's rows: per model each number, per comparison each difference.

    Attributes:
        numbers: Per model, per number.
        differences: Per comparison, per number.
    """

    numbers: dict[str, dict[str, StudyRow]]
    differences: dict[str, dict[str, StudyRow]]


@dataclass(frozen=True)
class AcrossSeeds:
    """One number's mean over training seeds, summarised across data seeds.

    Attributes:
        data_seeds: Data seeds with a value.
        mean: The mean of their means.
        sd: Their sd (``None`` with fewer than 2).
    """

    data_seeds: int
    mean: float | None
    sd: float | None


@dataclass(frozen=True)
class Study:
    """A seed study's aggregate (``study.json`` beside its settings).

    Attributes:
        data_seeds: Per data seed, its rows.
        across_data_seeds: Per owner, per number.
    """

    data_seeds: dict[int, SeedBlock]
    across_data_seeds: dict[str, dict[str, AcrossSeeds]]
