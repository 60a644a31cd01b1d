"""One process or many (``torchrun``): the same code paths, gated on the rank.

Under ``torchrun`` (``WORLD_SIZE > 1``) the process group starts with NCCL on GPUs and Gloo on
CPUs; each rank trains on its shard, and evaluation gathers every rank's outputs so that AUROC and
localization are computed over the whole split, never as per-rank means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from cxr_paper.errors import RunError


@dataclass(frozen=True)
class DistContext:
    """This process's place in a ``torchrun`` job (rank 0 of 1 without one).

    Attributes:
        rank: Global rank.
        world_size: Processes in the job.
        local_rank: Rank on this node (its GPU index).
        device: The device this process computes on.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str) -> DistContext:
    """Start the process group under torchrun (else a 1-process context) and pick the device.

    Args:
        device_name: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        The context.

    Raises:
        RunError: CUDA asked for but absent, ``cuda:N`` out of range or under ``torchrun``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device_name.startswith("cuda") or (
        device_name == "auto" and torch.cuda.is_available()
    )
    if use_cuda and not torch.cuda.is_available():
        raise RunError(f"--device {device_name}, but no CUDA device is available.")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    index = local_rank
    if ":" in device_name:
        if world_size > 1:
            raise RunError(
                f"--device {device_name} under torchrun: each rank uses its LOCAL_RANK's "
                "GPU; choose GPUs with CUDA_VISIBLE_DEVICES and pass --device cuda."
            )
        index = int(device_name.split(":")[1])
        if index >= torch.cuda.device_count():
            raise RunError(
                f"--device {device_name}: only {torch.cuda.device_count()} CUDA devices."
            )
    device = torch.device("cuda", index) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world_size == 1:
        return DistContext(0, 1, 0, device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device)


def barrier(ctx: DistContext) -> None:
    """Wait until every rank gets here (nothing without ``torchrun``).

    Args:
        ctx: The process's context.
    """
    if ctx.distributed:
        dist.barrier()


def gather(value: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank (a list of one without torchrun).

    Args:
        value: Any picklable value.
        ctx: The process's context.

    Returns:
        ``world_size`` values.
    """
    if not ctx.distributed:
        return [value]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, value)
    return out


def broadcast_state(module: torch.nn.Module, ctx: DistContext) -> None:
    """Every rank's ``module`` takes rank 0's parameters and buffers (in place).

    Args:
        module: The module, the same architecture on every rank.
        ctx: The process's context.
    """
    if not ctx.distributed:
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def shutdown(ctx: DistContext) -> None:
    """End the process group, if this process started one.

    Args:
        ctx: The process's context.
    """
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
