"""A DDP rank for the 2-process test (spawned; importable by name)."""

import numpy as np
import torch
import torch.distributed as dist
from planted_task import TASK, planted_batches

from cxr_paper.files.jsonio import strict
from cxr_paper.files.typed_json import to_json
from cxr_paper.learning.stage_loop import StageState, run_epoch
from cxr_paper.machine.distributed import DistContext
from cxr_paper.machine.runtime import wrap_for_training
from cxr_paper.scoring.evaluation import evaluate_test
from multires_backbone import create_model
from weighted_bce import DynamicWeightedBCEWithLogitsLoss


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("multires_resnet10t", num_classes=14)


def bce_step(net: torch.nn.Module, criterion=None):
    """A stage-1 step over ``(B, 3, H, W)`` batches, as fit_classifier builds it."""
    criterion = criterion or DynamicWeightedBCEWithLogitsLoss()
    return lambda batch: {"loss": criterion(net(batch["image"]).logits, batch["labels"])}


def train_rank(rank: int, world_size: int, init_file: str, batches: list, out_pattern: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        ctx = DistContext(rank, world_size, 0, torch.device("cpu"))
        model = make_model()
        net = wrap_for_training(model, ctx)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        mine = batches[rank::world_size]
        net.train()
        run_epoch(net, mine, bce_step(net), optimizer, StageState(), ctx, "ddp", total=len(mine))
        torch.save(model.state_dict(), out_pattern.format(rank=rank))
    finally:
        dist.destroy_process_group()


def fit_rank(
    rank: int, world_size: int, init_file: str, batches: list, folder: str, aurocs: list
) -> None:
    """``fit_classifier`` on one gloo rank, validation scripted to ``aurocs`` (the last epoch
    the best) and rank 0 slow to write ``stage1_best.pt``; saves the rank's final weights and
    the weights it saw at each epoch."""
    import dataclasses
    import time
    from pathlib import Path

    import pytest
    from training_batches import ListLoaders, scripted_validation

    import cxr_paper.learning.training as training
    from cxr_paper.configuration.config import RunConfig

    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        ctx = DistContext(rank, world_size, 0, torch.device("cpu"))
        snapshots: list[dict] = []
        with pytest.MonkeyPatch.context() as patch:
            scripted_validation(patch, aurocs, snapshots)
            writer = training.save_atomic

            def slow_writer(state, path):
                time.sleep(2.0)  # the other rank reaches the restore meanwhile
                writer(state, path)

            patch.setattr(training, "save_atomic", slow_writer)
            config = dataclasses.replace(
                RunConfig(), epochs=len(aurocs), amp="off", lr=1e-3, checkpoint_every=0
            )
            model = make_model()
            training.fit_classifier(
                "m", model, ListLoaders(batches[rank::world_size]), config, Path(folder), ctx, False
            )
        torch.save({"final": model.state_dict(), "epochs": snapshots}, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def planted_split():
    """The planted task's batches and model, the same in every process."""
    torch.manual_seed(0)
    batches, model, _ = planted_batches(np.random.default_rng(0))
    return batches, model


def evaluation_summary(test) -> dict:
    """What a rank's test result holds, as plain values to compare across processes."""
    return {
        "localization": strict(to_json(test.localization)),
        "auroc": test.auroc,
        "image_names": test.image_names,
        "box_images": test.box_images,
        "maps": {kind: saved["ids"] for kind, saved in test.maps.items()},
        "viewer": sorted(test.viewer),
        "scores": {kind: s.state_dict() for kind, s in test.scores.items()},
    }


def evaluate_rank(rank: int, world_size: int, init_file: str, out_pattern: str) -> None:
    """Score this rank's shard of the planted split; save what the whole gather gave it."""
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        ctx = DistContext(rank, world_size, 0, torch.device("cpu"))
        batches, model = planted_split()
        test = evaluate_test(model, None, batches[rank::world_size], ctx, task=TASK)
        torch.save(evaluation_summary(test), out_pattern.format(rank=rank))
    finally:
        dist.destroy_process_group()
