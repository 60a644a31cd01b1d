"""The run report's noise sections: the paired differences, each judged against the test set's
noise and (where a seed study measured it) the training noise, and the training noise of each
number."""

from __future__ import annotations

from cxr_paper.reporting.document import Document, Table, make_table
from cxr_paper.reporting.markdown import MEASURABLE, number, with_interval
from cxr_paper.scoring.comparisons import is_comparison
from cxr_paper.scoring.headlines import HEADLINES
from cxr_paper.scoring.interval_types import MEAN, Difference
from cxr_paper.scoring.model_metrics import ModelMetrics
from cxr_paper.scoring.training_noise import SEP, flatten, judge

#: Marks of a paired difference (:func:`cxr_paper.scoring.training_noise.judge`).
MARKS = {"finding": MEASURABLE, "test noise only": "†", "none": ""}


def paired_table(metrics: dict[str, ModelMetrics]) -> Table | None:
    """Every paired difference of the run: rows comparison x map kind, columns the headlines;
    each marked by :func:`~cxr_paper.scoring.training_noise.judge` against the test set's noise and,
    where a study measured it, the training noise.

    Args:
        metrics: Per model, its ``metrics.json`` entry.

    Returns:
        The table, or ``None`` when the run has no paired difference.
    """
    rows = []
    for model, result in metrics.items():
        known = (result.noise and result.noise.numbers) or {}

        def cell(difference: Difference | None, key: str, known=known) -> str:
            noise = known.get(key)
            mark = MARKS[judge(difference, noise.training_sd if noise else None)]
            return with_interval(difference, True, mark=False) + (f" {mark}" if mark else "")

        for comparison, differences in result.kind_differences().items():
            cells = [cell(differences.get(h), SEP.join((model, comparison, h))) for h in HEADLINES]
            rows.append([model, comparison.kind_label, *cells])
        for comparison, body in result.model_differences().items():
            auroc = body.auroc.get(MEAN)
            auroc_cell = cell(auroc, f"{comparison}{SEP}AUROC")
            rows.append([comparison, "mean AUROC", auroc_cell, *[""] * 4])
            for kind, headlines in body.localization.items():
                cells = [cell(headlines.get(h), SEP.join((comparison, kind, h))) for h in HEADLINES]
                rows.append([comparison, kind.label, *cells])
    header = ["models", "maps", *(h.label for h in HEADLINES)]
    return make_table(header, rows) if rows else None


def paired_section(metrics: dict[str, ModelMetrics]) -> Document | None:
    """The report's section on paired differences: :func:`paired_table` with how to read its marks.

    Args:
        metrics: Per model, its ``metrics.json`` entry.

    Returns:
        The section, or ``None`` when the run has no paired difference.
    """
    rows = paired_table(metrics)
    if rows is None:
        return None
    studied = any(result.noise and result.noise.study for result in metrics.values())
    training = (
        f"{MEASURABLE}: the difference stands out of the test set's noise and of the training "
        "noise the seed study measured for these settings (|estimate| > 1.96 × the combined sd); "
        "†: its interval excludes 0 but training noise alone could make it, so a rerun with "
        "another seed or machine may not repeat it: not a finding"
        if studied
        else f"{MEASURABLE}: the interval excludes 0 — test-set noise only: no seed study "
        "measured the training noise of these settings, so a rerun with another seed or on "
        "another machine may not repeat it"
    )
    return (
        Document()
        .heading("Paired differences")
        .add(rows)
        .paragraph(
            "Differences on the same test images (the same patient resamples for both sides). "
            + training
            + "; unmarked: not measurable at this test-set size. False positives: lower is better."
        )
    )


def training_noise_section(metrics: dict[str, ModelMetrics]) -> Document:
    """What retraining would move: per number, the study's training sd, the range a rerun is
    expected in, and whether this run's value lies there; robust numbers (small training share)
    first. Without a study for these settings, says so.

    Args:
        metrics: Per model, its ``metrics.json`` entry (with its :class:`NoiseNote`).

    Returns:
        The section.
    """
    first = next(iter(metrics.values()), None)
    study = first and first.noise and first.noise.study
    if not study:
        return (
            Document()
            .heading("Training noise")
            .paragraph(
                "Not measured for these settings: no committed seed study ran them. The "
                "intervals above cover the test patients only; a rerun with another training "
                "seed or on another machine can move a number by more than its interval (the "
                "README's seed study measures by how much for the demo preset)."
            )
        )
    rows = []
    for model, result in metrics.items():
        numbers = flatten(result, model)
        for key, known in ((result.noise and result.noise.numbers) or {}).items():
            value = numbers[key].estimate if key in numbers else None
            low, high = known.rerun_range
            inside = value is not None and low <= value <= high
            signed = any(is_comparison(part) for part in key.split(SEP))
            rows.append(
                (
                    known.training_share,
                    [
                        key,
                        f"{value:+.3f}" if signed and value is not None else number(value),
                        f"{number(known.training_sd)}",
                        f"[{low:+.3f}, {high:+.3f}]" if signed else f"[{low:.3f}, {high:.3f}]",
                        f"{100 * known.training_share:.0f} %",
                        "yes" if inside else "**no**",
                    ],
                )
            )
    rows.sort(key=lambda row: row[0])
    header = ["number", "this run", "training sd", "a rerun: 95 % range", "training share", "in it"]
    return (
        Document()
        .heading("Training noise")
        .paragraph(
            f"From the committed seed study of these settings (`{study.file}`, "
            f"{study.runs} runs over training and data seeds): each number's sd across "
            "training seeds, the range a rerun with another seed or machine is expected to fall "
            "in (the study's mean ± 1.96 training sd) and the share of the number's variance "
            "that training contributes (the rest is test-set noise). Robust numbers first."
        )
        .table(header, [r for _, r in rows])
    )
