"""Stage 1 (classifier, weighted BCE) and stage 2 (PCM, SEAM), resumable at any checkpoint.

Each ``fit_*`` shows in one screen what its stage trains, with which loss, optimizer and schedule;
both run their epochs through :func:`~cxr_paper.learning.stage_loop.run_epoch`. Checkpoints
(``stage1_last.pt``, ``stage2_last.pt``) are written atomically every ``checkpoint_every``
optimizer steps and at every epoch end. They hold the weights, optimizer, scheduler, RNG states and
the :class:`~cxr_paper.learning.stage_loop.StageState`, so ``--resume`` after a kill continues
exactly: on
CPU with the same settings it ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cxr_paper.configuration.config import RunConfig
from cxr_paper.errors import RunError
from cxr_paper.files.checkpoint import load, save_atomic
from cxr_paper.learning.stage_loop import StageState, every_steps, load_stage, run_epoch, save_stage
from cxr_paper.machine.distributed import DistContext, broadcast_state, gather
from cxr_paper.machine.runtime import (
    autocast,
    autocast_dtype,
    prepare_images,
    rng_state,
    set_rng_state,
    wrap_for_training,
)
from cxr_paper.scoring.auroc import known_labels, macro_auroc
from multires_backbone import CAMClassifier
from weighted_bce import DynamicWeightedBCEWithLogitsLoss


@torch.no_grad()
def evaluate_classification(
    model: CAMClassifier,
    loader: Iterable[dict[str, Any]],
    criterion: torch.nn.Module,
    ctx: DistContext,
    classes: Sequence[str],
    amp: torch.dtype | None = None,
) -> tuple[float, dict[str, float], list[str]]:
    """Mean loss, AUROC per class of ``classes`` (the label columns) and ``mean`` over the whole
    split (all ranks gathered), and the names of the unreadable images skipped.

    Args:
        model: The classifier.
        loader: The split's batches (``images``, ``labels``, and ``label_mask`` where a label
            may be unknown).
        criterion: The loss.
        ctx: The process's context.
        classes: The label columns' names.
        amp: The autocast dtype, or ``None``.

    Returns:
        ``(loss, auroc, skipped)``.
    """
    model.eval()
    loss_sum, seen, scores, labels, skipped = 0.0, 0, [], [], []
    for batch in loader:
        skipped += batch.get("skipped_names", [])
        if "image" not in batch:
            continue
        images, targets = batch["image"].to(ctx.device), batch["labels"].to(ctx.device)
        mask = batch.get("label_mask")
        with autocast(amp, ctx.device):
            logits = model(images).logits.float()
        kept = None if mask is None else mask.to(ctx.device)
        loss_sum += criterion(logits, targets, kept).item() * len(images)
        seen += len(images)
        scores.append(torch.sigmoid(logits).cpu().numpy())
        labels.append(known_labels(batch))
    parts = gather({"loss": loss_sum, "seen": seen, "scores": scores, "labels": labels}, ctx)
    names = sorted({n for part in gather(skipped, ctx) for n in part})
    all_scores = np.concatenate([s for part in parts for s in part["scores"]])
    all_labels = np.concatenate([s for part in parts for s in part["labels"]])
    mean_loss = sum(p["loss"] for p in parts) / max(sum(p["seen"] for p in parts), 1)
    return mean_loss, macro_auroc(all_labels, all_scores, classes), names


def fit_classifier(
    name: str,
    model: CAMClassifier,
    loaders: Any,
    config: RunConfig,
    folder: Path,
    ctx: DistContext,
    resume: bool,
) -> dict[str, list]:
    """Stage 1: weighted BCE, Adam, ReduceLROnPlateau on validation macro-AUROC, best checkpoint.

    Args:
        name: The model's name (its folder and progress label).
        model: The classifier to train.
        loaders: The run's :class:`~cxr_paper.inputs.data.Loaders`.
        config: The run's settings.
        folder: The model's folder; stage-1 checkpoints go there.
        ctx: The process's context.
        resume: Continue from the stage's checkpoint.

    Returns:
        The stage's history: per name (losses, validation AUROC, learning rate, skipped
        images), one value per epoch.
    """
    last, best = folder / "stage1_last.pt", folder / "stage1_best.pt"
    criterion = DynamicWeightedBCEWithLogitsLoss()
    amp = autocast_dtype(config.amp, ctx.device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="max",
        factor=config.plateau_factor,
        patience=config.plateau_patience,
        min_lr=config.min_lr,
    )
    state = StageState()
    saved = (
        load_stage(last, ctx, model=model, optimizer=optimizer, scheduler=scheduler)
        if resume
        else None
    )
    if saved is not None:
        state, checkpoint = saved
        set_rng_state(checkpoint["rng"])
    net = wrap_for_training(model, ctx, config.sync_bn)
    if config.compile:
        net = torch.compile(net)

    def step(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        images = prepare_images(batch["image"], ctx.device, config.channels_last)
        labels = batch["labels"].to(ctx.device, non_blocking=True)
        mask = batch.get("label_mask")
        kept = None if mask is None else mask.to(ctx.device, non_blocking=True)
        with autocast(amp, ctx.device):
            return {"loss": criterion(net(images).logits, labels, kept)}

    def save() -> None:
        parts = dict(model=model, optimizer=optimizer, scheduler=scheduler, rng=rng_state())
        save_stage(last, state, ctx, **parts)

    on_step = every_steps(state, config.checkpoint_every, save)

    bar = tqdm(total=config.epochs, desc=f"{name} stage 1", unit="epoch", disable=not ctx.is_main)
    bar.update(state.epoch)
    while state.epoch < config.epochs:
        epoch = state.epoch
        loaders.train_sampler.set_epoch(epoch, start=state.batch * config.batch_size)
        model.train()
        run_epoch(
            net,
            loaders.train,
            step,
            optimizer,
            state,
            ctx,
            f"{name} epoch {epoch + 1}",
            accumulation=config.accumulation,
            on_step=on_step,
        )
        totals = state.end_epoch(ctx)
        train_loss = totals.get("loss", 0.0) / max(totals.get("images", 0), 1)
        skipped = int(totals.get("skipped", 0))
        val_loss, auroc, val_skipped = evaluate_classification(
            model, loaders.val, criterion, ctx, loaders.task.classes, amp
        )
        score = auroc["mean"] if not math.isnan(auroc["mean"]) else -val_loss
        scheduler.step(score)
        state.record(
            train_loss=train_loss,
            val_loss=val_loss,
            val_auroc=auroc["mean"],
            lr=optimizer.param_groups[0]["lr"],
            skipped=skipped,
        )
        state.history["skipped_val_images"] = val_skipped
        if ctx.is_main:
            tqdm.write(
                f"{name} epoch {epoch + 1}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, "
                f"val AUROC {auroc['mean']:.4f}"
                + (f", {skipped} unreadable images skipped" if skipped else "")
            )
        if score > state.best_score:
            state.best_score = score
            if ctx.is_main:
                save_atomic(
                    {"model": model.state_dict(), "epoch": epoch + 1, "val_auroc": auroc}, best
                )
        save()
        bar.update()
    bar.close()
    restore_best(model, best, ctx, recorded=state.best_score > -math.inf)
    return {**state.history, "skipped_train_images": state.skipped_names}


def restore_best(
    model: torch.nn.Module, best: Path, ctx: DistContext, recorded: bool = True
) -> None:
    """Rank 0 loads the best epoch's weights (it wrote them), then every rank receives them, so
    each rank holds that one model without reading a file rank 0 may still be writing (or that
    another node cannot see). ``recorded``: the stage's state says a best epoch was saved; its
    file missing then is refused (the last epoch's weights are not the best's).

    Args:
        model: The classifier; its weights are replaced.
        best: The best epoch's checkpoint.
        ctx: The process's context.
        recorded: Whether the stage recorded a best epoch.

    Raises:
        RunError: ``recorded`` and ``best`` missing.
    """
    if ctx.is_main and recorded and not best.is_file():
        raise RunError(
            f"{best} is missing, though stage 1 recorded a best epoch; its weights cannot be "
            f"rebuilt: put the file back, or delete {best.with_name('stage1_last.pt')} to train "
            "stage 1 again."
        )
    if ctx.is_main and best.is_file():
        saved = load(best, ctx.device)
        try:
            model.load_state_dict(saved["model"])
        except (KeyError, RuntimeError) as error:
            raise RunError(f"{best}: does not fit this model ({error}).") from None
    broadcast_state(model, ctx)
