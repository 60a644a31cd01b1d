"""Stage 1 (classifier, weighted BCE) and stage 2 (PCM, SEAM), resumable at any checkpoint.

Checkpoints (``stage1_last.pt``, ``stage2_last.pt``) are written atomically every
``checkpoint_every`` optimizer steps and at every epoch end. They hold the weights, optimizer,
scheduler, RNG states, the epoch and how many batches of it were consumed, so ``--resume`` after a
kill continues exactly: on CPU with the same settings it ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cxr14_data import CLASSES
from multires_backbone import (
    CAMClassifier,
    PretrainedWeightsError,
    apply_finetune_policy,
    create_model,
)
from pcm_seam import PCM, freeze_model, seam_step
from weighted_bce import DynamicWeightedBCEWithLogitsLoss

from .auroc import macro_auroc
from .checkpoint import load, save_atomic
from .config import RunConfig, seam_loss
from .distributed import DistContext, gather
from .runtime import (
    autocast,
    autocast_dtype,
    maybe_kill,
    prepare_images,
    rng_state,
    set_rng_state,
    wrap_for_training,
)

#: Stage-2 loss history, per epoch: the SEAM loss and its two terms.
PCM_HISTORY = ("pcm_loss", "msml", "ecr")


def build_model(name: str, config: RunConfig) -> CAMClassifier:
    """The classifier of ``name`` with its own ``--pretrained`` weights and head dropout."""
    model = create_model(
        name,
        num_classes=len(CLASSES),
        pretrained=config.weights_for(name),
        gamma=config.lse_gamma,
        head_dropout=config.head_dropout_for(name),
    )
    if config.finetune_policy:
        apply_finetune_policy(model)
    return model


def check_weights(config: RunConfig) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Load every model's weights once, before any data or training: a file that does not fit
    its model, or weights that cannot be downloaded, stop the run now, naming model and file.

    Returns each model's input normalisation ``(mean, std)`` (that of its weights).
    """
    normalization = {}
    for name in config.models:
        try:
            normalization[name] = build_model(name, config).normalization
        except (PretrainedWeightsError, OSError, RuntimeError) as error:
            raise SystemExit(
                f"error: --pretrained for {name} ({config.weights_for(name)}): {error}"
            ) from None
    return normalization


def _check_finite(loss: torch.Tensor, ctx: DistContext, where: str) -> None:
    """Stop every rank together on a NaN/inf loss, before it touches the weights."""
    finite = torch.isfinite(loss.detach()).float()
    if ctx.distributed:
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    if finite.item() < 1:
        raise FloatingPointError(
            f"Non-finite loss ({loss.item()}) at {where}; stopping. The last checkpoint is intact: "
            "fix the cause (learning rate, data) and continue with --resume."
        )


def train_one_epoch(
    model: torch.nn.Module,
    loader: Iterable[dict[str, Any]],
    optimizer: torch.optim.Optimizer,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    accumulation: int,
    ctx: DistContext,
    desc: str,
    *,
    total_batches: int | None = None,
    start_batch: int = 0,
    sums: tuple[float, int, int] = (0.0, 0, 0),
    amp: torch.dtype | None = None,
    channels_last: bool = False,
    on_step: Callable[[int, tuple[float, int, int]], None] | None = None,
    skipped_names: set[str] | None = None,
) -> tuple[float, int, int]:
    """Train over ``loader`` (batches ``start_batch..``); return ``(loss sum, images, skipped)``.

    Gradients are accumulated over ``accumulation`` batches (without DDP synchronisation until
    the last one); ``on_step(batches_done, sums)`` runs after every optimizer step. The names of
    unreadable images skipped are added to ``skipped_names``.
    """
    model.train()
    total = total_batches if total_batches is not None else start_batch + len(loader)  # type: ignore[arg-type]
    loss_sum, seen, skipped = sums
    for batch_index, batch in enumerate(
        tqdm(
            loader,
            desc=desc,
            leave=False,
            unit="batch",
            disable=not ctx.is_main,
            initial=start_batch,
            total=total,
        ),
        start=start_batch,
    ):
        skipped += batch.get("skipped", 0)
        if skipped_names is not None:
            skipped_names.update(batch.get("skipped_names", []))
        boundary = (batch_index + 1) % accumulation == 0 or batch_index + 1 == total
        if "image" in batch:
            images = prepare_images(batch["image"], ctx.device, channels_last)
            labels = batch["labels"].to(ctx.device, non_blocking=True)
            sync = model.no_sync() if hasattr(model, "no_sync") and not boundary else nullcontext()
            with sync:
                with autocast(amp, ctx.device):
                    loss = criterion(model(images).logits, labels)
                _check_finite(loss, ctx, f"{desc}, batch {batch_index}")
                (loss / accumulation).backward()
            loss_sum += loss.item() * len(images)
            seen += len(images)
        if boundary:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if on_step is not None:
                on_step(batch_index + 1, (loss_sum, seen, skipped))
    return loss_sum, seen, skipped


@torch.no_grad()
def evaluate_classification(
    model: CAMClassifier,
    loader: Iterable[dict[str, Any]],
    criterion: torch.nn.Module,
    ctx: DistContext,
    amp: torch.dtype | None = None,
) -> tuple[float, dict[str, float], list[str]]:
    """Mean loss, AUROC per class (and ``mean``) over the whole split (all ranks gathered), and
    the names of the unreadable images skipped."""
    model.eval()
    loss_sum, seen, scores, labels, skipped = 0.0, 0, [], [], []
    for batch in loader:
        skipped += batch.get("skipped_names", [])
        if "image" not in batch:
            continue
        images, targets = batch["image"].to(ctx.device), batch["labels"].to(ctx.device)
        with autocast(amp, ctx.device):
            logits = model(images).logits.float()
        loss_sum += criterion(logits, targets).item() * len(images)
        seen += len(images)
        scores.append(torch.sigmoid(logits).cpu().numpy())
        labels.append(targets.cpu().numpy())
    parts = gather((loss_sum, seen, scores, labels, skipped), ctx)
    loss_sum = sum(p[0] for p in parts)
    seen = sum(p[1] for p in parts)
    all_scores = np.concatenate([s for p in parts for s in p[2]])
    all_labels = np.concatenate([s for p in parts for s in p[3]])
    names = sorted({n for p in parts for n in p[4]})
    return loss_sum / max(seen, 1), macro_auroc(all_labels, all_scores), names


def _mean_over_ranks(sums: tuple[float, int, int], ctx: DistContext) -> tuple[float, int]:
    parts = gather(sums, ctx)
    seen = sum(p[1] for p in parts)
    return sum(p[0] for p in parts) / max(seen, 1), sum(p[2] for p in parts)


def fit_classifier(
    name: str,
    model: CAMClassifier,
    loaders: Any,
    config: RunConfig,
    folder: Path,
    ctx: DistContext,
    resume: bool,
) -> dict[str, list[float]]:
    """Stage 1: weighted BCE, Adam, ReduceLROnPlateau on validation macro-AUROC, best checkpoint."""
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
    state: dict[str, Any] = {
        "epoch": 0,
        "batch": 0,
        "sums": (0.0, 0, 0),
        "best_score": -math.inf,
        "optimizer_steps": 0,
        "skipped_names": [],
        "history": {"train_loss": [], "val_loss": [], "val_auroc": [], "lr": [], "skipped": []},
    }
    if resume and last.is_file():
        saved = load(last, ctx.device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        set_rng_state(saved["rng"])
        state = saved["state"]
    net = wrap_for_training(model, ctx, config.sync_bn)
    if config.compile:
        net = torch.compile(net)

    def save_last() -> None:
        if ctx.is_main:
            save_atomic(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng_state(),
                    "state": state,
                },
                last,
            )

    def on_step(batches_done: int, sums: tuple[float, int, int]) -> None:
        state["optimizer_steps"] += 1
        maybe_kill(state["optimizer_steps"])
        state["batch"], state["sums"] = batches_done, sums
        if config.checkpoint_every and state["optimizer_steps"] % config.checkpoint_every == 0:
            save_last()

    sampler = loaders.train_sampler
    epochs = tqdm(
        range(config.epochs),
        desc=f"{name} stage 1",
        unit="epoch",
        disable=not ctx.is_main,
        initial=state["epoch"],
    )
    while state["epoch"] < config.epochs:
        epoch = state["epoch"]
        sampler.set_epoch(epoch, start=state["batch"] * config.batch_size)
        names: set[str] = set()
        sums = train_one_epoch(
            net,
            loaders.train,
            optimizer,
            criterion,
            config.accumulation,
            ctx,
            f"{name} epoch {epoch + 1}",
            total_batches=state["batch"] + len(loaders.train),
            start_batch=state["batch"],
            sums=state["sums"],
            amp=amp,
            channels_last=config.channels_last,
            on_step=on_step,
            skipped_names=names,
        )
        names.update(state["skipped_names"])
        state["skipped_names"] = sorted({n for part in gather(names, ctx) for n in part})
        train_loss, skipped = _mean_over_ranks(sums, ctx)
        val_loss, auroc, val_skipped = evaluate_classification(
            model, loaders.val, criterion, ctx, amp
        )
        state["skipped_val_names"] = val_skipped
        score = auroc["mean"] if not math.isnan(auroc["mean"]) else -val_loss
        scheduler.step(score)
        for key, value in (
            ("train_loss", train_loss),
            ("val_loss", val_loss),
            ("skipped", skipped),
            ("val_auroc", auroc["mean"]),
            ("lr", optimizer.param_groups[0]["lr"]),
        ):
            state["history"][key].append(value)
        if ctx.is_main:
            tqdm.write(
                f"{name} epoch {epoch + 1}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, "
                f"val AUROC {auroc['mean']:.4f}"
                + (f", {skipped} unreadable images skipped" if skipped else "")
            )
        if score > state["best_score"]:
            state["best_score"] = score
            if ctx.is_main:
                save_atomic(
                    {"model": model.state_dict(), "epoch": epoch + 1, "val_auroc": auroc}, best
                )
        state.update(epoch=epoch + 1, batch=0, sums=(0.0, 0, 0))
        save_last()
        epochs.update()
    epochs.close()
    if best.is_file():
        model.load_state_dict(load(best, ctx.device)["model"])
    return {
        **state["history"],
        "skipped_train_images": state["skipped_names"],
        "skipped_val_images": state.get("skipped_val_names", []),
    }


def fit_pcm(
    name: str,
    model: CAMClassifier,
    loaders: Any,
    config: RunConfig,
    folder: Path,
    ctx: DistContext,
    resume: bool,
) -> tuple[PCM, dict[str, list[float]]]:
    """Stage 2: only the PCM trains, with the SEAM objective over the frozen classifier.

    Adam with the run's betas, gradients accumulated over ``--accumulation`` batches and their
    norm clipped at ``--grad-clip`` before each step ("in all cases", §5.1).
    """
    lr, epochs = config.pcm_schedule(name)
    torch.manual_seed(config.seed)
    pcm = PCM(model.num_features, image_channels=3 if config.pcm_reads_image else 0)
    pcm = pcm.to(ctx.device)
    loss_fn = seam_loss(config)
    optimizer = torch.optim.Adam(pcm.parameters(), lr=lr, betas=tuple(config.betas))
    generator = torch.Generator().manual_seed(config.seed * 7919 + ctx.rank)
    amp = autocast_dtype(config.amp, ctx.device)
    last = folder / "stage2_last.pt"
    totals = dict.fromkeys(PCM_HISTORY, 0.0)
    state: dict[str, Any] = {
        "epoch": 0,
        "batch": 0,
        "sums": {**totals, "images": 0},
        "optimizer_steps": 0,
        "history": {key: [] for key in PCM_HISTORY},
    }
    if resume and last.is_file():
        saved = load(last, ctx.device)
        pcm.load_state_dict(saved["pcm"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generators"][ctx.rank])
        state = saved["state"]
    freeze_model(model)
    net = wrap_for_training(pcm, ctx)

    def save_last() -> None:
        generators = gather(generator.get_state(), ctx)
        if ctx.is_main:
            save_atomic(
                {
                    "pcm": pcm.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generators": generators,
                    "state": state,
                },
                last,
            )

    sampler = loaders.train_sampler
    while state["epoch"] < epochs:
        epoch = state["epoch"]
        sampler.set_epoch(epoch, start=state["batch"] * config.batch_size)
        total = state["batch"] + len(loaders.train)
        for batch_index, batch in enumerate(
            tqdm(
                loaders.train,
                desc=f"{name} SEAM epoch {epoch + 1}",
                leave=False,
                unit="batch",
                disable=not ctx.is_main,
                initial=state["batch"],
                total=total,
            ),
            start=state["batch"],
        ):
            boundary = (batch_index + 1) % config.accumulation == 0 or batch_index + 1 == total
            if "image" in batch:
                images = prepare_images(batch["image"], ctx.device, config.channels_last)
                labels = batch["labels"].to(ctx.device)
                with autocast(amp, ctx.device):
                    out = seam_step(model, net, images, labels, loss_fn, generator)
                _check_finite(out.loss, ctx, f"{name} SEAM epoch {epoch + 1}, batch {batch_index}")
                (out.loss / config.accumulation).backward()
                sums = state["sums"]
                for key, value in (("pcm_loss", out.loss), ("msml", out.msml), ("ecr", out.ecr)):
                    sums[key] += value.item() * len(images)
                sums["images"] += len(images)
            state["batch"] = batch_index + 1
            if boundary:
                torch.nn.utils.clip_grad_norm_(pcm.parameters(), config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                state["optimizer_steps"] += 1
                if (
                    config.checkpoint_every
                    and state["optimizer_steps"] % config.checkpoint_every == 0
                ):
                    save_last()
        gathered = gather(state["sums"], ctx)
        seen = max(sum(part["images"] for part in gathered), 1)
        for key in PCM_HISTORY:
            state["history"][key].append(sum(part[key] for part in gathered) / seen)
        state.update(epoch=epoch + 1, batch=0, sums={**totals, "images": 0})
        save_last()
    return pcm, state["history"]
