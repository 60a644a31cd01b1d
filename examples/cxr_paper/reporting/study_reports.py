"""The reports of work over several runs: a seed study (``study.md``), a PCM ablation
(``ablation.md``, and the tables of ``ablation.html``) and an ablation over seeds
(``ablation_seeds.md``), as report documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.reporting.document import Document, literal
from cxr_paper.reporting.markdown import MEASURABLE, number, with_interval
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.study import owner_of
from cxr_paper.scoring.study_results import Study, StudyRow

#: The headline numbers an ablation over seeds shows.
ABLATION_HEADLINES = (Headline.ACCURACY, Headline.AFP, Headline.MAX_BOX_ACC_V2)


def seed_cells(row: StudyRow, signed: bool) -> list[str]:
    """A number across runs: the value per run, mean ± sd, and the pooled interval.

    Args:
        row: The number across runs.
        signed: Show signs (a difference).

    Returns:
        Three cells.

    Examples:
        >>> from cxr_paper.scoring.interval_types import Interval
        >>> pooled = Interval(0.6, 0.45, 0.75, 0.95, 1000)
        >>> seed_cells(StudyRow([0, 1], [0.5, 0.7], 0.6, 0.141, pooled), signed=False)
        ['0.500 / 0.700', '0.600 ± 0.141', '0.600 [0.450, 0.750]']
    """
    return [
        " / ".join(number(v) for v in row.values),
        f"{number(row.mean)} ± {number(row.sd)}",
        with_interval(row.pooled, signed=signed),
    ]


def study_document(study: Study, config: dict[str, Any]) -> Document:
    """``study.md``: per data seed every number and paired difference across training seeds;
    with several data seeds, their spread too.

    Args:
        study: The aggregate.
        config: The study's settings.

    Returns:
        The document.
    """
    doc = Document().heading("Seed study", 1)
    doc.paragraph(
        f"{config['runs']} runs: training seeds {config['seeds']} × data seeds "
        f"{config['data_seeds']}; {config['resamples']} patient-level bootstrap resamples. Each "
        "cell: the values per training seed, their mean ± sd (training noise), and the pooled "
        "95 % interval of that mean (a two-level bootstrap: training seeds and test patients "
        "drawn with replacement together, so it holds both noises). "
        f"{MEASURABLE}: a difference whose pooled interval excludes 0."
    )
    for data_seed, block in study.data_seeds.items():
        rows = [
            [owner, name, *seed_cells(row, signed=signed)]
            for section, signed in ((block.numbers, False), (block.differences, True))
            for owner, numbers in section.items()
            for name, row in numbers.items()
        ]
        doc.heading(f"Data seed {data_seed}")
        doc.table(["model / comparison", "number", "per seed", "mean ± sd", "pooled"], rows)
    if len(study.data_seeds) > 1:
        rows = [
            [owner, name, f"{number(r.mean)} ± {number(r.sd)}", str(r.data_seeds)]
            for owner, numbers in study.across_data_seeds.items()
            for name, r in numbers.items()
        ]
        doc.heading("Across data seeds")
        doc.table(["model / comparison", "number", "mean ± sd", "data seeds"], rows)
    return doc


def ablation_document(results: dict[str, Any], protocol: LocalizationProtocol) -> Document:
    """``ablation.md``: per model, each variant's accuracy per class, its mean, AFP and time.

    Args:
        results: ``ablation.json``'s value.
        protocol: The Q, p and T scored with.

    Returns:
        The document.
    """
    doc = Document().heading("PCM ablation", 1)
    doc.paragraph(
        f"Run: {literal(results['run'])}; stage 1 kept, only the PCM retrained per variant. "
        f"Accuracy ({protocol.caption()}) per class, its mean, and mean false positives per "
        "image (AFP)."
    )
    classes = [*results["box_classes"], "mean"]
    for model, rows in results["variants"].items():
        cells = [
            [
                variant,
                *(number(row["accuracy"][c]) for c in classes),
                number(row["afp"]["mean"]),
                f"{row['seconds']:.0f}" if "seconds" in row else "–",
            ]
            for variant, row in rows.items()
        ]
        doc.heading(model).table(["variant", *classes, "AFP", "s"], cells)
    return doc


def ablation_seeds_document(study: Study, runs: Sequence[Path]) -> Document:
    """``ablation_seeds.md``: each variant's PCM minus CAM only, pooled over the runs.

    Args:
        study: The variants' aggregate over the runs.
        runs: The run folders.

    Returns:
        The document.
    """
    doc = Document().heading("PCM ablation over seeds", 1)
    doc.paragraph(
        f"Runs: {', '.join(f'`{r}`' for r in runs)}. Each variant's PCM minus CAM only, on the "
        "same test images: the value per run, mean ± sd over the runs and the pooled 95 % "
        "interval (runs and test patients resampled together; "
        f"{MEASURABLE}: the interval excludes 0)."
    )
    for data_seed, block in study.data_seeds.items():
        rows = [
            [owner_of(owner), headline, *seed_cells(row, signed=True)]
            for owner, headlines in block.differences.items()
            for headline, row in headlines.items()
            if headline in ABLATION_HEADLINES
        ]
        doc.heading(f"Data seed {data_seed}")
        doc.table(["model [variant]", "number", "per run", "mean ± sd", "pooled"], rows)
    return doc
