"""A score as ``score.json`` (strict JSON: an undefined number is ``null``) and ``score.md``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cam_boxes_iobb._atomic import write_atomically
from cam_boxes_iobb._markdown import literal
from cam_boxes_iobb.annotations import Annotations
from cam_boxes_iobb.bootstrap import Intervals
from cam_boxes_iobb.scoring import (
    BOX_METRICS,
    MASK_METRICS,
    METRICS,
    MapScore,
    ScoreSettings,
    paired_differences,
)

FIXED = ("accuracy", "afp", "accuracy_iou", "afp_iou")
INTERVALS_COVER = (
    "95 % intervals resample the annotated images' patients (a patient's images together): "
    "they cover the sampling of these test images, not the training of the model"
)


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _entry(intervals: Intervals | None, observed: float, index: tuple) -> dict[str, Any]:
    if intervals is None:
        return {"estimate": _number(observed)}
    entry = intervals.entry(index)
    entry["excludes_zero"] = bool(intervals.excludes_zero()[index])
    return entry


def _per_class(
    key: str,
    classes: Sequence[str],
    observed: np.ndarray,
    intervals: Intervals | None,
    overlaps: Sequence[float],
) -> dict[str, Any]:
    names = [*classes, "mean"]
    if key in FIXED:
        return {
            str(t): {c: _entry(intervals, observed[k, i], (k, i)) for k, c in enumerate(names)}
            for i, t in enumerate(overlaps)
        }
    return {c: _entry(intervals, observed[k], (k,)) for k, c in enumerate(names)}


def _classes_of(score: MapScore, key: str) -> tuple[str, ...]:
    return score.scorer.box_classes if key in BOX_METRICS else score.scorer.mask_classes


def build_score(
    scores: Sequence[MapScore],
    annotations: Annotations,
    settings: ScoreSettings,
    annotation_format: str,
) -> dict[str, Any]:
    """The JSON-ready score of one or more map sets; the second and later sets are also
    compared with the first (paired differences on the same resamples)."""
    maps: dict[str, Any] = {}
    for score in scores:
        observed = score.scorer.observed()
        intervals = score.intervals(settings) if settings.resamples else None
        maps[score.name] = {
            "source": score.source,
            "probabilities": score.has_probs,
            "images": len(score.scorer.image_ids),
            "patients": len(set(score.scorer.patients)),
            "ignored_images": score.ignored_images,
            "prediction_only_images": score.prediction_only_images,
            "box_classes": list(score.scorer.box_classes),
            "mask_classes": list(score.scorer.mask_classes),
            "classes_not_in_maps": list(score.missing_classes),
            "results": {
                key: _per_class(
                    key,
                    _classes_of(score, key),
                    observed[key][0],
                    None if intervals is None else intervals[key],
                    settings.overlaps,
                )
                for key in observed
            },
        }
    paired: dict[str, Any] = {}
    if settings.resamples:
        for other in scores[1:]:
            differences = paired_differences(scores[0], other, settings)
            paired[f"{other.name} - {scores[0].name}"] = {
                key: _per_class(
                    key,
                    _classes_of(scores[0], key),
                    differences[key].estimate,
                    differences[key],
                    settings.overlaps,
                )
                for key in differences
            }
    return {
        "annotations": {"format": annotation_format, **annotations.summary()},
        "settings": settings.to_dict(),
        "intervals": INTERVALS_COVER if settings.resamples else "none (resamples = 0)",
        "metrics": {key: METRICS[key] for key in (*BOX_METRICS, *MASK_METRICS)},
        "maps": maps,
        "paired": paired,
    }


def _cell(entry: dict[str, Any] | None, signed: bool = False) -> str:
    if entry is None or entry.get("estimate") is None:
        return "–"
    sign = "+" if signed else ""
    text = f"{entry['estimate']:{sign}.3f}"
    if entry.get("low") is not None and entry.get("high") is not None:
        text += f" [{entry['low']:{sign}.3f}, {entry['high']:{sign}.3f}]"
    if signed and entry.get("excludes_zero"):
        text = f"**{text}** ✓"
    return text


def _headline(results: dict[str, Any], key: str, overlap: str, name: str = "mean") -> Any:
    value = results.get(key)
    if value is None:
        return None
    return value[overlap].get(name) if key in FIXED else value.get(name)


def _label(key: str, overlap: str) -> str:
    names = {
        "accuracy": f"accuracy, IoBB > {overlap}",
        "afp": f"false positives / image, IoBB > {overlap}",
        "accuracy_iou": f"accuracy, IoU > {overlap}",
        "afp_iou": f"false positives / image, IoU > {overlap}",
        "max_box_acc_v1": "MaxBoxAccV1",
        "max_box_acc_v2": "MaxBoxAccV2",
        "pointing_game": "pointing game",
        "miou": "mIoU",
        "hit_rate": "hit rate",
        "pxap": "PxAP",
    }
    return names[key]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def escape(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    lines = ["| " + " | ".join(escape(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return lines


def _mask_pairs(settings: dict[str, Any]) -> str:
    if settings.get("true_positives_only", True):
        return "the pairs with a GT mask and a non-empty segmentation (CheXlocalize's default)"
    return (
        "every (image, class) pair, GT-negative ones and images found only in the maps included "
        "(CheXlocalize's `true_pos_only=False`)"
    )


def render_markdown(score: dict[str, Any]) -> str:
    """``score.md``: the headline (class means), per-class tables, paired differences."""
    overlap = str(score["settings"]["headline_overlap"])
    ann = score["annotations"]
    settings = score["settings"]
    lines = [
        "# Localization score",
        "",
        f"Annotations: {literal(ann['source'])} ({ann['format']}), {ann['images']} images of "
        f"{ann['patients']} patients. Heatmap threshold Q = {settings['heatmap_threshold']}, "
        f"probability threshold {settings['prob_threshold']} (where the maps carry "
        f"probabilities), pointing tolerance {settings['pointing_tolerance']} px of the "
        f"annotation frame, box metrics at "
        f"{settings['score_size'] or 'each image’s annotation frame'}.",
        "",
        f"Intervals: {score['intervals']}.",
        *(
            [
                "",
                f"Mask metrics: mIoU over {_mask_pairs(settings)}; PxAP bins of "
                f"{settings.get('pxap_step', 0.01)} (wsolevaluation's `evaluate_wsol` and "
                "`config.py` default 0.001; its standalone `evaluation.py` uses 0.01).",
            ]
            if any(m["mask_classes"] for m in score["maps"].values())
            else []
        ),
        "",
        "## Headline (means over classes)",
        "",
    ]
    names = list(score["maps"])
    keys = [
        k
        for k in (
            "accuracy",
            "afp",
            "max_box_acc_v1",
            "max_box_acc_v2",
            "pointing_game",
            *MASK_METRICS,
        )
        if any(k in m["results"] for m in score["maps"].values())
    ]
    rows = [
        [
            _label(k, overlap),
            *(_cell(_headline(score["maps"][n]["results"], k, overlap)) for n in names),
        ]
        for k in keys
    ]
    lines += _table(["metric", *map(literal, names)], rows)
    for name, entry in score["maps"].items():
        lines += [
            "",
            f"## {literal(name)}",
            "",
            f"{literal(entry['source'])}: {entry['images']} images of {entry['patients']} patients "
            f"scored, {entry['ignored_images']} maps without annotations ignored"
            + (
                f", {entry['prediction_only_images']} found only in the maps scored against "
                "empty masks (all mask pairs)"
                if entry.get("prediction_only_images")
                else ""
            )
            + "; "
            f"probabilities: {'yes' if entry['probabilities'] else 'no (every class gets boxes)'}."
            + (
                " Localized classes the maps lack (not scored): "
                f"{', '.join(map(literal, entry['classes_not_in_maps']))}."
                if entry["classes_not_in_maps"]
                else ""
            ),
        ]
        for group, classes in (("box", entry["box_classes"]), ("mask", entry["mask_classes"])):
            group_keys = [
                k
                for k in keys
                if k in entry["results"] and k in (BOX_METRICS if group == "box" else MASK_METRICS)
            ]
            if not classes or not group_keys:
                continue
            rows = [
                [
                    literal(c) if c != "mean" else c,
                    *(_cell(_headline(entry["results"], k, overlap, c)) for k in group_keys),
                ]
                for c in [*classes, "mean"]
            ]
            lines += ["", *_table(["class", *(_label(k, overlap) for k in group_keys)], rows)]
    for comparison, results in score["paired"].items():
        lines += ["", f"## Paired difference: {literal(comparison)}", ""]
        rows = [
            [_label(k, overlap), _cell(_headline(results, k, overlap), signed=True)]
            for k in keys
            if k in results
        ]
        lines += _table(["metric (mean over classes)", "difference"], rows)
        lines += ["", "✓: the interval excludes 0 (a difference measurable on these images)."]
    lines += ["", "## Metrics", ""]
    lines += [f"- `{k}`: {v}" for k, v in score["metrics"].items()]
    return "\n".join(lines) + "\n"


def write_score(score: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``score.json`` and ``score.md`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "score.json", out / "score.md"
    text = json.dumps(score, indent=2, allow_nan=False) + "\n"
    write_atomically(json_path, lambda handle: handle.write(text))
    markdown = render_markdown(score)
    write_atomically(md_path, lambda handle: handle.write(markdown))
    return json_path, md_path
