"""Execution settings of a run: precision, memory format, DDP wrapping, RNG state, fault hooks."""

from __future__ import annotations

import os
import random
import signal
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cxr_paper.errors import RunError
from cxr_paper.machine.distributed import DistContext

#: Test hook: SIGKILL this process when the stage-1 optimizer step counter reaches this value.
KILL_AT_STEP_ENV = "CXR_PAPER_KILL_AT_STEP"


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """bf16 on GPU by default ("auto"), fp32 on CPU; "bf16" or "off" force it.

    Args:
        amp: ``"auto"``, ``"bf16"`` or ``"off"``.
        device: The device computed on.

    Returns:
        ``torch.bfloat16`` or ``None`` (full precision).

    Raises:
        RunError: Another ``amp``.
    """
    if amp not in ("auto", "bf16", "off"):
        raise RunError(f"--amp must be 'auto', 'bf16' or 'off', got {amp!r}.")
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast(dtype: torch.dtype | None, device: torch.device) -> AbstractContextManager:
    """``torch.autocast`` at ``dtype``, or nothing for ``None``.

    Args:
        dtype: What :func:`autocast_dtype` chose.
        device: The device computed on.

    Returns:
        A context manager.
    """
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def prepare_images(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """A batch of images on ``device``, channels-last if asked.

    Args:
        images: Float tensor ``(B, 3, H, W)``.
        device: Where to move it.
        channels_last: Whether to use the channels-last memory format.

    Returns:
        The same values, ``(B, 3, H, W)``, on ``device``.
    """
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def wrap_for_training(module: nn.Module, ctx: DistContext, sync_bn: bool = False) -> nn.Module:
    """DistributedDataParallel under torchrun (optionally with SyncBatchNorm), else the module.

    Args:
        module: The module to train.
        ctx: The process's context.
        sync_bn: Convert BatchNorm to SyncBatchNorm first.

    Returns:
        The module to call in the training loop.
    """
    if not ctx.distributed:
        return module
    if sync_bn:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def rng_state() -> dict[str, Any]:
    """Every RNG's state as tensors and plain numbers (a checkpoint loads it without pickle).

    Returns:
        Python's, NumPy's, torch's CPU and (where present) CUDA generators' states.
    """
    kind, key, position, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - libraries use it
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "state": torch.tensor(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved.

    Args:
        state: What :func:`rng_state` returned.
    """
    numpy = state["numpy"]
    key = np.asarray(numpy["key"].numpy(), dtype=np.uint32)
    torch.set_rng_state(state["torch"])
    np.random.set_state(  # noqa: NPY002
        (numpy["kind"], key, numpy["position"], numpy["has_gauss"], numpy["cached_gaussian"])
    )
    python = state["python"]
    internal = tuple(int(v) for v in python["state"].tolist())
    random.setstate((python["version"], internal, python["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: Test hook: SIGKILL this process after this many models have finished and been reported.
KILL_AFTER_MODELS_ENV = "CXR_PAPER_KILL_AFTER_MODELS"


def maybe_kill(variable: str, count: int) -> None:
    """Fault injection for the kill-and-resume tests: SIGKILL this process when the environment
    variable ``variable`` (:data:`KILL_AT_STEP_ENV`, :data:`KILL_AFTER_MODELS_ENV`) is set to
    ``count``; nothing otherwise.

    Args:
        variable: The environment variable's name.
        count: The step or model count reached.
    """
    target = os.environ.get(variable)
    if target is not None and count == int(target):
        os.kill(os.getpid(), signal.SIGKILL)
