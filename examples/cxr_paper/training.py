"""Stage 1 (classifier, weighted BCE) and stage 2 (PCM, SEAM), each checkpointed every epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader
from tqdm.auto import tqdm, trange

from cxr14_data import CLASSES
from multires_backbone import CAMClassifier, apply_finetune_policy, create_model
from pcm_seam import PCM, SEAMLoss, seam_step
from weighted_bce import DynamicWeightedBCEWithLogitsLoss

from .checkpoint import load, save_atomic
from .config import RunConfig


def build_model(name: str, config: RunConfig) -> CAMClassifier:
    pretrained = {"none": False, "timm": True}.get(config.pretrained, config.pretrained)
    model = create_model(name, num_classes=len(CLASSES), pretrained=pretrained)
    if config.finetune_policy:
        apply_finetune_policy(model)
    return model


def macro_auroc(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Per-class AUROC (NaN where the split holds one label value only) and their mean."""
    result = {}
    for i, name in enumerate(CLASSES):
        column = labels[:, i]
        result[name] = (
            float(roc_auc_score(column, scores[:, i]))
            if 0 < column.sum() < len(column)
            else math.nan
        )
    values = [v for v in result.values() if not math.isnan(v)]
    result["mean"] = float(np.mean(values)) if values else math.nan
    return result


def train_one_epoch(
    model: CAMClassifier,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    criterion: torch.nn.Module,
    accumulation: int,
    device: torch.device,
    desc: str,
) -> float:
    """One pass over ``loader``; returns the mean training loss per image."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    total, seen = 0.0, 0
    for step, batch in enumerate(tqdm(loader, desc=desc, leave=False, unit="batch")):
        images, labels = batch["image"].to(device), batch["labels"].to(device)
        loss = criterion(model(images).logits, labels)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: non-finite loss {loss.item()} at step {step}")
        (loss / accumulation).backward()
        if (step + 1) % accumulation == 0 or step + 1 == len(loader):
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        total += loss.item() * len(images)
        seen += len(images)
    return total / max(seen, 1)


@torch.no_grad()
def evaluate_classification(
    model: CAMClassifier, loader: DataLoader, criterion: torch.nn.Module, device: torch.device
) -> tuple[float, dict[str, float]]:
    """Mean loss and AUROC per class (and ``mean``) over ``loader``."""
    model.eval()
    total, seen, scores, labels = 0.0, 0, [], []
    for batch in loader:
        images, targets = batch["image"].to(device), batch["labels"].to(device)
        logits = model(images).logits
        total += criterion(logits, targets).item() * len(images)
        seen += len(images)
        scores.append(torch.sigmoid(logits).cpu())
        labels.append(targets.cpu())
    auroc = macro_auroc(torch.cat(labels).numpy(), torch.cat(scores).numpy())
    return total / max(seen, 1), auroc


def fit_classifier(
    name: str,
    model: CAMClassifier,
    loaders: Any,
    config: RunConfig,
    folder: Path,
    device: torch.device,
    resume: bool,
) -> dict[str, list[float]]:
    """Stage 1: weighted BCE, Adam, ReduceLROnPlateau on validation macro-AUROC, best checkpoint."""
    last, best = folder / "stage1_last.pt", folder / "stage1_best.pt"
    criterion = DynamicWeightedBCEWithLogitsLoss()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr, betas=tuple(config.betas), weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.1, patience=config.plateau_patience, min_lr=config.min_lr
    )
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_auroc": [], "lr": []}
    start, best_auroc = 0, -math.inf
    if resume and last.is_file():
        state = load(last, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start, best_auroc, history = state["epoch"], state["best_auroc"], state["history"]
    for epoch in trange(
        start,
        config.epochs,
        desc=f"{name} stage 1",
        unit="epoch",
        initial=start,
        total=config.epochs,
    ):
        train_loss = train_one_epoch(
            model,
            loaders.train,
            optimizer,
            criterion,
            config.accumulation,
            device,
            f"{name} epoch {epoch + 1}",
        )
        val_loss, auroc = evaluate_classification(model, loaders.val, criterion, device)
        score = auroc["mean"] if not math.isnan(auroc["mean"]) else -val_loss
        scheduler.step(score)
        for key, value in (
            ("train_loss", train_loss),
            ("val_loss", val_loss),
            ("val_auroc", auroc["mean"]),
            ("lr", optimizer.param_groups[0]["lr"]),
        ):
            history[key].append(value)
        tqdm.write(
            f"{name} epoch {epoch + 1}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, "
            f"val AUROC {auroc['mean']:.4f}"
        )
        if score > best_auroc:
            best_auroc = score
            save_atomic({"model": model.state_dict(), "epoch": epoch + 1, "val_auroc": auroc}, best)
        save_atomic(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "epoch": epoch + 1,
                "best_auroc": best_auroc,
                "history": history,
            },
            last,
        )
    if best.is_file():
        model.load_state_dict(load(best, device)["model"])
    return history


def fit_pcm(
    name: str,
    model: CAMClassifier,
    loaders: Any,
    config: RunConfig,
    folder: Path,
    device: torch.device,
    resume: bool,
) -> tuple[PCM, dict[str, list[float]]]:
    """Stage 2: only the PCM trains, with the SEAM objective over the frozen classifier."""
    lr, epochs = config.pcm_overrides.get(name, [config.pcm_lr, config.pcm_epochs])
    epochs = int(epochs)
    torch.manual_seed(config.seed)
    pcm = PCM(model.num_features).to(device)
    loss_fn = SEAMLoss(max_angle=config.seam_max_angle)
    optimizer = torch.optim.Adam(pcm.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(config.seed)
    last = folder / "stage2_last.pt"
    history: dict[str, list[float]] = {"pcm_loss": [], "msml": [], "ecr": []}
    start = 0
    if resume and last.is_file():
        state = load(last, device)
        pcm.load_state_dict(state["pcm"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        start, history = state["epoch"], state["history"]
    for epoch in trange(
        start, epochs, desc=f"{name} stage 2 (PCM)", unit="epoch", initial=start, total=epochs
    ):
        sums, seen = np.zeros(3), 0
        for step, batch in enumerate(
            tqdm(loaders.train, desc=f"{name} SEAM epoch {epoch + 1}", leave=False, unit="batch")
        ):
            images, labels = batch["image"].to(device), batch["labels"].to(device)
            out = seam_step(model, pcm, images, labels, loss_fn, generator)
            if not torch.isfinite(out.loss):
                raise FloatingPointError(
                    f"{name} SEAM epoch {epoch + 1}: non-finite loss at step {step}"
                )
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(pcm.parameters(), config.grad_clip)
            optimizer.step()
            sums += np.array([out.loss.item(), out.msml.item(), out.ecr.item()]) * len(images)
            seen += len(images)
        for key, value in zip(history, sums / max(seen, 1), strict=True):
            history[key].append(float(value))
        save_atomic(
            {
                "pcm": pcm.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(),
                "epoch": epoch + 1,
                "history": history,
            },
            last,
        )
    return pcm, history
