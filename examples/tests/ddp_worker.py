"""A DDP rank for the 2-process test (spawned; importable by name)."""

import torch
import torch.distributed as dist

from cxr_paper.distributed import DistContext
from cxr_paper.runtime import wrap_for_training
from cxr_paper.stage_loop import StageState, run_epoch
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
