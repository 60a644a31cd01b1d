"""The run's report (``report.md``, and the tables of ``report.html``): Tables 1-4 with the
paper's numbers beside ours, the figures, the run's facts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxr_paper.configuration.paper_numbers import (
    TABLE1_AUROC,
    TABLE2_ACCURACY,
    TABLE3_AFP,
    TABLE4,
    paper_applies,
    paper_row,
)
from cxr_paper.configuration.protocol import PAPER_PROTOCOL, LocalizationProtocol
from cxr_paper.configuration.task import Task
from cxr_paper.reporting.decisions_report import decisions_section
from cxr_paper.reporting.document import Document, Table, literal, make_table
from cxr_paper.reporting.markdown import MEASURABLE, kind_label, number, with_interval
from cxr_paper.scoring.comparisons import Comparison, is_across_models, is_comparison
from cxr_paper.scoring.headlines import HEADLINES, Headline, fixed_protocol
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.training_noise import SEP, flatten, judge

INTERVAL_NOTE = (
    "Brackets: 95 % intervals over the **test patients only** (percentile bootstrap, {resamples} "
    "resamples of the test patients, seed {seed}): how far a number would move on another draw "
    "of test images. Retraining with another seed, or on another machine, moves it too, and "
    "that is not in them (see Training noise)."
)
#: Marks of a paired difference (:func:`cxr_paper.scoring.training_noise.judge`).
MARKS = {"finding": MEASURABLE, "test noise only": "†", "none": ""}


@dataclass
class DataNotes:
    """On how many images the tables were computed, and what was left out of them."""

    test_images: int
    test_images_listed: int
    box_images: int
    box_images_listed: int
    skipped_images: dict[str, list[str]]
    dropped_boxes: list[str]

    def lines(self) -> list[str]:
        """Bullet items: what was left out of the tables."""
        lines = []
        skipped = {split: names for split, names in self.skipped_images.items() if names}
        if skipped:
            lines.append(
                "**Unreadable images skipped** (`--skip-unreadable`): "
                + "; ".join(
                    f"{split} {len(names)} ({', '.join(map(literal, names[:10]))}"
                    + (", …" if len(names) > 10 else "")
                    + ")"
                    for split, names in skipped.items()
                )
            )
        if self.dropped_boxes:
            lines.append(
                f"**GT boxes dropped** (outside the box frame, `--skip-bad-boxes`): "
                f"{len(self.dropped_boxes)} ({'; '.join(map(literal, self.dropped_boxes[:5]))})"
            )
        return lines

    @property
    def auroc_caption(self) -> str:
        return f"Computed on {self.test_images} of the {self.test_images_listed} test images."

    @property
    def localization_caption(self) -> str:
        return (
            f"Computed on {self.box_images} of the {self.box_images_listed} test images that "
            "have GT boxes."
        )


def metrics_task(metrics: dict[str, Any]) -> Task:
    """The task the models of ``metrics.json`` were evaluated on (stored with each model)."""
    return Task.from_dict(next(iter(metrics.values()))["task"], "metrics.json")


def table1(metrics: dict[str, Any]) -> Table:
    """Table 1: test AUROC per class, ours with intervals beside the paper's."""
    task = metrics_task(metrics)
    paper_models = list(metrics) if paper_applies(task.classes, task.box_classes) else []
    header = [
        "Pathology",
        *(f"{m} (ours)" for m in metrics),
        *(f"{paper_row(m)} (paper)" for m in paper_models),
    ]
    rows = []
    for i, name in enumerate([*task.classes, "mean"]):
        ours = [_ours(metrics[m], ("auroc", name), metrics[m]["auroc"][name]) for m in metrics]
        paper = [number(TABLE1_AUROC[paper_row(m)][i]) for m in paper_models]
        rows.append([name, *ours, *paper])
    return make_table(header, rows)


def _ours(result: dict[str, Any], path: tuple[str, ...], value: float) -> str:
    """The value with its interval from ``result["intervals"]`` when the run computed one."""
    entry: Any = result.get("intervals")
    for key in path:
        entry = entry.get(key) if isinstance(entry, dict) else None
    return with_interval(entry) if entry else number(value)


def _localization_table(metrics: dict[str, Any], stat: str, published: dict) -> Table:
    task = metrics_task(metrics)
    box_classes = list(task.box_classes)
    if not paper_applies(task.classes, task.box_classes):
        published = {}
    header = ["Method", *box_classes, "mean"]
    rows = []
    for model, result in metrics.items():
        for kind, label in (("cam", ""), ("pcm", " (with PCM)")):
            values = fixed_protocol(result["localization"][kind])
            rows.append(
                [
                    f"{model}{label} — ours",
                    *(
                        _ours(result, ("localization", kind, stat, c), values[c][stat])
                        for c in [*box_classes, "mean"]
                    ),
                ]
            )
            key = (paper_row(model), kind == "pcm")
            if key in published:
                paper = published[key]
                rows.append(
                    [
                        f"{paper_row(model)}{label} — paper",
                        *(number(v) for v in paper),
                        number(sum(paper) / len(paper)),
                    ]
                )
    return make_table(header, rows)


def paired_table(metrics: dict[str, Any]) -> Table | None:
    """Every paired difference of the run: rows comparison x map kind, columns the headlines;
    each marked by :func:`~cxr_paper.scoring.training_noise.judge` against the test set's noise and,
    where a study measured it, the training noise."""
    rows = []
    for model, result in metrics.items():
        known = result.get("noise", {}).get("numbers", {})

        def cell(entry: Any, key: str, known: dict[str, Any] = known) -> str:
            sd = known.get(key, {}).get("training_sd")
            mark = MARKS[judge(entry, sd)]
            return with_interval(entry and {**entry, "excludes_zero": False}, True) + (
                f" {mark}" if mark else ""
            )

        for comparison, by_kind in result.get("paired", {}).items():
            if is_across_models(comparison, model):
                auroc = by_kind.get("auroc", {}).get("mean")
                key = f"{comparison}{SEP}AUROC"
                rows.append([comparison, "mean AUROC", cell(auroc, key), *[""] * 4])
                for kind, headlines in by_kind.items():
                    if kind != "auroc":
                        cells = [
                            cell(headlines.get(h), SEP.join((comparison, kind, h)))
                            for h in HEADLINES
                        ]
                        rows.append([comparison, kind_label(kind), *cells])
            else:  # a map kind against the model's CAM
                cells = [cell(by_kind.get(h), SEP.join((model, comparison, h))) for h in HEADLINES]
                label = (
                    Comparison.parse(comparison).kind_label
                    if is_comparison(comparison)
                    else comparison
                )
                rows.append([model, label, *cells])
    header = ["models", "maps", *(h.label for h in HEADLINES)]
    return make_table(header, rows) if rows else None


def table4(metrics: dict[str, Any], device: str) -> Table:
    """Table 4: inference time and parameters, ours beside the paper's."""
    header = [
        "Model",
        f"ms ({device})",
        "ms with PCM",
        "params (ours)",
        "params (published config)",
        "paper ms (P100)",
        "paper params",
    ]
    rows = []
    for model, result in metrics.items():
        paper_ms, paper_params = TABLE4.get(model, (math.nan, None))
        rows.append(
            [
                model,
                f"{result['latency_ms']:.2f}",
                f"{result['latency_ms_pcm']:.2f}",
                f"{result['params']['model']:,}",
                f"{result['params']['published_configuration']:,}",
                number(paper_ms) if model in TABLE4 else "–",
                f"{paper_params:,}" if paper_params else "–",
            ]
        )
    return make_table(header, rows)


def _paired_section(metrics: dict[str, Any]) -> Document | None:
    rows = paired_table(metrics)
    if rows is None:
        return None
    studied = any(result.get("noise", {}).get("study") for result in metrics.values())
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


def training_noise_section(metrics: dict[str, Any]) -> Document:
    """What retraining would move: per number, the study's training sd, the range a rerun is
    expected in, and whether this run's value lies there; robust numbers (small training share)
    first. Without a study for these settings, says so."""
    first = next(iter(metrics.values()), {})
    study = first.get("noise", {}).get("study")
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
        for key, known in result.get("noise", {}).get("numbers", {}).items():
            value = numbers.get(key, {}).get("estimate")
            low, high = known["rerun_range"]
            inside = value is not None and low <= value <= high
            signed = any(is_comparison(part) for part in key.split(SEP))
            rows.append(
                (
                    known["training_share"],
                    [
                        key,
                        f"{value:+.3f}" if signed and value is not None else number(value),
                        f"{number(known['training_sd'])}",
                        f"[{low:+.3f}, {high:+.3f}]" if signed else f"[{low:.3f}, {high:.3f}]",
                        f"{100 * known['training_share']:.0f} %",
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
            f"From the committed seed study of these settings (`{study['file']}`, "
            f"{study['runs']} runs over training and data seeds): each number's sd across "
            "training seeds, the range a rerun with another seed or machine is expected to fall "
            "in (the study's mean ± 1.96 training sd) and the share of the number's variance "
            "that training contributes (the rest is test-set noise). Robust numbers first."
        )
        .table(header, [r for _, r in rows])
    )


def run_report(
    metrics: dict[str, Any],
    config: dict[str, Any],
    source: str,
    figures: dict[str, Path],
    seconds: float,
    device: str,
    notes: DataNotes,
    pending: list[str] | None = None,
) -> Document:
    """The run's report: its facts, Tables 1-4 beside the paper's, the methods compared, the
    paired differences, the decisions, the training noise and the figures."""
    doc = Document().heading("Reproduction of D'Souza, Reddy & Manjunath (2022)", 1)
    doc.bullets(
        [
            f"Data: {literal(source)}",
            f"Preset: `{config['preset']}`; models: {', '.join(metrics)}; input "
            f"{config['image_size']} px; stage 1 {config['epochs']} epochs; stage 2 (PCM) "
            f"{config['pcm_epochs']} epochs",
            f"Device: {device}; wall time {seconds / 60:.1f} min",
            "Localization: the ChestX-ray8 protocol (IoBB > T, false positives per evaluated "
            "image) on the test images that have GT boxes; `metrics.json` also holds T ∈ {0.1, "
            "…, 0.9}, IoU matching and the seed authors' protocol (IoU > 0.1, false positives / "
            "880).",
            *notes.lines(),
            f"**Not finished yet**: {', '.join(pending)} (this report covers the models done)."
            if pending
            else "",
        ]
    )
    if not all(m == paper_row(m) for m in metrics):
        doc.paragraph(
            "Our models are smaller stand-ins for the paper's (named in the paper columns), "
            "trained on a different data source; compare the pattern across models, not the "
            "absolute values."
        )
    doc.paragraph(
        INTERVAL_NOTE.format(resamples=config["bootstrap_resamples"], seed=config["bootstrap_seed"])
    )
    doc.heading("Table 1 — test AUROC").add(table1(metrics)).paragraph(notes.auroc_caption)
    doc.heading("Table 2 — localization accuracy, IoBB > 0.1")
    doc.add(_localization_table(metrics, "accuracy", TABLE2_ACCURACY))
    doc.paragraph(notes.localization_caption)
    doc.heading("Table 3 — average false positives, IoBB 0.1")
    doc.add(_localization_table(metrics, "afp", TABLE3_AFP))
    doc.paragraph(notes.localization_caption)
    protocol = LocalizationProtocol.of(config)
    doc.heading("Localization methods compared").add(methods_table(metrics, protocol))
    doc.paragraph(
        methods_caption(config["pointing_tolerance"], config["box_frame"], protocol)
        + " "
        + notes.localization_caption
    )
    doc.add(_paired_section(metrics), decisions_section(metrics, config))
    doc.add(training_noise_section(metrics))
    doc.heading("Table 4 — inference time at 256×256×3 (batch 1) and parameters")
    doc.add(table4(metrics, device))
    doc.paragraph(
        "Published configuration: 15 classifier outputs plus the PCM embedding for MultiRes "
        "models, 14 outputs for the standard ones, as the authors counted."
    )
    for title, figure in figures.items():
        if figure.is_file():
            doc.heading(title).figure(title, figure.name)
    return doc


# The comparison of localization methods: every map kind of every model, scored by the fixed
# protocol, the calibrated threshold and the threshold-free metrics.


def _cell(intervals: dict[str, Any], headline: Headline, scores: dict[str, Any]) -> str:
    """A headline's mean over the box classes, with its interval when the run computed one."""
    entry = intervals.get(headline, {}).get("mean")
    return with_interval(entry) if entry else number(headline.read(scores))


#: The methods table's headline columns, in order.
METHOD_COLUMNS = (
    Headline.ACCURACY,
    Headline.CALIBRATED_ACCURACY,
    Headline.MAX_BOX_ACC_V2,
    Headline.POINTING_GAME,
    Headline.AFP,
)


def methods_table(metrics: dict[str, Any], protocol: LocalizationProtocol) -> Table:
    """Rows model × map kind; means over the 8 box classes."""
    names = {
        Headline.ACCURACY: f"{Headline.ACCURACY.label} (Q = {protocol.heatmap_threshold:g})",
        Headline.CALIBRATED_ACCURACY: f"{Headline.CALIBRATED_ACCURACY.label} (threshold)",
    }
    header = ["model", "maps", *(names.get(h, h.label) for h in METHOD_COLUMNS), "s (test split)"]
    rows = []
    for model, result in metrics.items():
        seconds = result.get("cam_method_seconds", {})
        for kind, scores in result["localization"].items():
            intervals = result.get("intervals", {}).get("localization", {}).get(kind, {})
            method = MapKind.parse(kind).method
            cells = {h: _cell(intervals, h, scores) for h in METHOD_COLUMNS}
            cells[Headline.CALIBRATED_ACCURACY] += f" ({scores['calibrated']['threshold']:.2f})"
            rows.append(
                [
                    model,
                    kind_label(kind),
                    *(cells[h] for h in METHOD_COLUMNS),
                    f"{seconds[method]:.0f}" if method in seconds else "–",
                ]
            )
    return make_table(header, rows)


def methods_caption(
    pointing_tolerance: float, box_frame: list[int], protocol: LocalizationProtocol
) -> str:
    """What the methods table's columns mean, with the run's thresholds and tolerance."""
    height, width = box_frame
    paper = (
        " (the paper's)"
        if protocol == PAPER_PROTOCOL
        else f" (the paper's: {PAPER_PROTOCOL.caption()})"
    )
    return (
        f"Fixed protocol: {protocol.caption()}{paper}. Calibrated: the heatmap threshold that "
        "maximises accuracy (fewest false positives among ties) on a seeded 20 % of the box "
        "images (split by patient), scored on the other 80 %. MaxBoxAccV2 (Choe et al. 2020; "
        "IoU ∈ {0.3, 0.5, 0.7}, best of 100 thresholds; each map resized to the input with "
        "cubic interpolation and min-max normalised, as wsolevaluation does) and the pointing "
        "game (Zhang et al. 2018; the map resized to the original image, the "
        f"{height} × {width} box frame, a hit within {pointing_tolerance:g} px of it) score "
        "every image's GT classes whatever the classifier predicted. Seconds: computing that "
        "method's maps over the test split (PCM refinement not included)."
    )
