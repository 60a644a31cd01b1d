"""One model of a run: stage 1, stage 2, the test split, its decisions and the shareable model
(``pretrained/``); or, on ``--resume``, the finished model's saved result."""

from __future__ import annotations

from pathlib import Path

import torch

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.data_source import DataSource
from cxr_paper.deploy.decisions import decision_quality
from cxr_paper.deploy.pretrained import PRETRAINED_DIR, save_run_model
from cxr_paper.errors import RunError
from cxr_paper.inputs.data import Loaders
from cxr_paper.inputs.data_sets import data_summary
from cxr_paper.inputs.models import build_model
from cxr_paper.learning.pcm_training import fit_pcm
from cxr_paper.learning.training import fit_classifier
from cxr_paper.machine.distributed import DistContext
from cxr_paper.machine.environment import environment
from cxr_paper.scoring.evaluation import evaluate_run
from cxr_paper.scoring.model_facts import inference_ms, parameter_counts, split_logits
from cxr_paper.scoring.records import MAPS_FOLDER, RECORDS_FILE, save_records, save_test_maps
from cxr_paper.scoring.results import RESULT_ARRAYS, RESULT_JSON, ModelResult
from cxr_paper.scoring.uncertainty import model_intervals, paired_maps

Normalization = tuple[tuple[float, ...], tuple[float, ...]]


def finished_model(folder: Path) -> ModelResult | None:
    """The saved result of a model a resumed run keeps, ``None`` if it has not finished; a
    finished model whose other outputs were deleted is refused, naming them (they are rebuilt
    from its checkpoints, without training, once its ``result.json`` is removed).

    Args:
        folder: The model's folder.

    Returns:
        Its result, or ``None``.

    Raises:
        RunError: Finished, but outputs are missing.
    """
    result = ModelResult.load(folder)
    if result is None:
        return None
    expected = [RESULT_ARRAYS, RECORDS_FILE, f"{PRETRAINED_DIR}/config.json"]
    if result.test.box_images:
        expected += [f"{MAPS_FOLDER}/{kind}.npz" for kind in result.test.scores]
    missing = [name for name in expected if not (folder / name).is_file()]
    if missing:
        raise RunError(
            f"{folder}: finished in an earlier session, but {', '.join(missing)} are missing; "
            f"delete {folder / RESULT_JSON} to rebuild them from the checkpoints there (no "
            "training), or put them back."
        )
    return result


def train_and_evaluate(
    name: str,
    config: RunConfig,
    loaders: Loaders,
    normalization: Normalization,
    ctx: DistContext,
    resume: bool,
    figure_images: set[str],
) -> ModelResult:
    """Stage 1, stage 2, the test split (Tables 1-4 for this model), then the shareable model
    (``pretrained/``: weights, config and model card).

    Args:
        name: The model's name.
        config: The run's settings.
        loaders: The run's loaders.
        normalization: Its ``(mean, std)``.
        ctx: The process's context.
        resume: Continue from its checkpoints.
        figure_images: The Fig. 7 images.

    Returns:
        Its result.
    """
    folder = Path(config.out) / name
    torch.manual_seed(config.seed)
    model = build_model(name, config, len(loaders.task.classes)).to(ctx.device)
    history = fit_classifier(name, model, loaders, config, folder, ctx, resume)
    pcm, pcm_history = fit_pcm(name, model, loaders, config, folder, ctx, resume)
    history = {**history, **pcm_history}
    test = evaluate_run(model, pcm, loaders.test, config, ctx, figure_images, f"{name} test")
    if ctx.is_main:
        save_records(test, folder)
        save_test_maps(test, folder)
    val_labels, val_logits = split_logits(model, loaders.val, ctx, f"{name} validation")
    decisions = decision_quality(val_labels, val_logits, test, config)
    resamples, seed = config.bootstrap_resamples, config.bootstrap_seed
    result = ModelResult(
        test=test,
        history=history,
        params=parameter_counts(name, model, pcm),
        latency_ms=inference_ms(model, None, ctx.device, config.latency_repeats),
        latency_ms_pcm=inference_ms(model, pcm, ctx.device, config.latency_repeats),
        intervals=model_intervals(test, resamples, seed),
        paired=paired_maps(test, resamples, seed),
        environment=environment(ctx.device),
        decisions=decisions,
    )
    if ctx.is_main:
        save_run_model(
            model,
            pcm,
            folder,
            architecture=name,
            classes=result.test.task.classes,
            image_size=config.image_size,
            normalization=normalization,
            gamma=config.lse_gamma,
            prob_threshold=config.prob_threshold,
            heatmap_threshold=config.heatmap_threshold,
            operating_points=decisions.operating_points and decisions.operating_points.saved(),
            temperature=decisions.calibration.temperature if decisions.calibration else 1.0,
            card={
                "metrics": result.metrics(),
                "training_data": f"{card_source(config, loaders)}; the run's settings are in its "
                "config.json.",
                "synthetic": DataSource.parse(config.data).synthetic,
                # relative: the card travels to the Hub, local folders do not belong there
                "where": f"{Path(config.out).name}/{name}/pretrained",
            },
        )
    return result


def card_source(config: RunConfig, loaders: Loaders) -> str:
    """The training data as the model card names it: no local path (the card is published).

    Args:
        config: The run's settings.
        loaders: The run's loaders.

    Returns:
        The generated set's description, or the set's name, split and label policy.
    """
    source = DataSource.parse(config.data)
    if source.synthetic:
        return loaders.source
    return data_summary(source, config)
