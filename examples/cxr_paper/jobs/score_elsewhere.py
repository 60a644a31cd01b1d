"""``--score-on LAYOUT:PATH``: once a run's models are trained, each is scored on other data
sets' annotations as ``score_model.py`` scores it (the set's test split, the model's classes
mapped to the set's through the vocabulary, the unmapped ones listed), into
``score_on/<layout>/<model>/`` of the run folder."""

from __future__ import annotations

from pathlib import Path

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.data_source import SCORE_ON, score_on_folder
from cxr_paper.files.manifest import record_output
from cxr_paper.jobs import score
from cxr_paper.machine.distributed import DistContext, barrier
from cxr_paper.scoring.model_metrics import ModelScore

#: The run's settings a set is read with, and so scored with too.
READING = (
    "synthetic_patients",
    "synthetic_size",
    "synthetic_difficulty",
    "data_seed",
    "val_fraction",
    "test_fraction",
    "uncertainty",
    "blank",
    "views",
    "readers",
    "mimic_labels",
)


def score_elsewhere(config: RunConfig, ctx: DistContext) -> dict[str, dict[str, ModelScore]]:
    """Score every model of the finished run on every ``--score-on`` set.

    Args:
        config: The run's settings.
        ctx: The process's context.

    Returns:
        Per ``--score-on`` entry, per model, what its ``score.json`` holds.
    """
    out = Path(config.out)
    if ctx.is_main and config.score_on:
        record_output(out / SCORE_ON, folder=True)
    scores: dict[str, dict[str, ModelScore]] = {}
    for spec in config.score_on:
        for model in config.models:
            flags = [
                *("--model", str(out / model), "--data", spec, "--preset", config.preset),
                *("--out", str(out / score_on_folder(spec, model)), "--overwrite"),
                *("--device", config.device, "--batch-size", str(config.batch_size)),
                *("--bootstrap-resamples", str(config.bootstrap_resamples)),
            ]
            args = score.get_args_parser().parse_args(flags)
            args.reading = {name: getattr(config, name) for name in READING}
            scores.setdefault(spec, {})[model] = score.score_into(args, ctx)
            barrier(ctx)
    return scores
