"""The training loop both stages share: a typed, resumable state and one batch loop.

A stage (the classifier, then the PCM) is a sequence of epochs over the seeded training keys. Its
:class:`StageState` says how far it got (epoch, batch inside the epoch, optimizer steps), holds the
epoch's running totals by name and the per-epoch history, and is saved in every checkpoint, so
``--resume`` continues at the same batch. :func:`run_epoch` is the only batch loop: gradient
accumulation (without DDP synchronisation until the last micro-batch), optional gradient clipping,
unreadable-image counting, the non-finite loss stop and the fault-injection hook.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from cxr_paper.errors import RunError
from cxr_paper.files.checkpoint import load, save_atomic
from cxr_paper.machine.distributed import DistContext, gather
from cxr_paper.machine.runtime import KILL_AT_STEP_ENV, maybe_kill

#: ``step_fn(batch) -> {"loss": ..., other named terms}``; ``"loss"`` is backpropagated.
StepFn = Callable[[dict[str, Any]], dict[str, torch.Tensor]]


@dataclass
class StageState:
    """Where a stage stands; saved with every checkpoint of the stage."""

    epoch: int = 0
    batch: int = 0
    optimizer_steps: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=dict)
    best_score: float = -math.inf
    skipped_names: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.totals[key] = self.totals.get(key, 0.0) + value

    def end_epoch(self, ctx: DistContext) -> dict[str, float]:
        """The epoch's totals summed over ranks; resets them for the next epoch."""
        parts = gather(self.totals, ctx)
        summed = {key: sum(part.get(key, 0.0) for part in parts) for key in self.totals}
        names = gather(self.skipped_names, ctx)
        self.skipped_names = sorted({n for part in names for n in part})
        self.epoch, self.batch, self.totals = self.epoch + 1, 0, {}
        return summed

    def record(self, **values: Any) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)


def check_finite(loss: torch.Tensor, ctx: DistContext, where: str) -> None:
    """Stop every rank together on a NaN/inf loss, before it touches the weights."""
    finite = torch.isfinite(loss.detach()).float()
    if ctx.distributed:
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    if finite.item() < 1:
        raise FloatingPointError(
            f"Non-finite loss ({loss.item()}) at {where}; stopping. The last checkpoint is intact: "
            "fix the cause (learning rate, data) and continue with --resume."
        )


def run_epoch(
    net: torch.nn.Module,
    loader: Iterable[dict[str, Any]],
    step_fn: StepFn,
    optimizer: torch.optim.Optimizer,
    state: StageState,
    ctx: DistContext,
    desc: str,
    *,
    accumulation: int = 1,
    total: int | None = None,
    clip: tuple[list[torch.nn.Parameter], float] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Batches ``state.batch ..`` of ``loader``: forward through ``step_fn``, backward, and an
    optimizer step every ``accumulation`` batches (and at the last one).

    ``state.totals`` gains ``images``, ``skipped`` and each named term times its batch size;
    ``clip=(params, max_norm)`` clips the gradient norm before each step; ``on_step()`` runs
    after each step (checkpoints).
    """
    total = total if total is not None else state.batch + len(loader)  # type: ignore[arg-type]
    batches = tqdm(
        loader,
        desc=desc,
        leave=False,
        unit="batch",
        disable=not ctx.is_main,
        initial=state.batch,
        total=total,
    )
    for batch_index, batch in enumerate(batches, start=state.batch):
        state.add("skipped", batch.get("skipped", 0))
        state.skipped_names = sorted({*state.skipped_names, *batch.get("skipped_names", [])})
        boundary = (batch_index + 1) % accumulation == 0 or batch_index + 1 == total
        if "image" in batch:
            sync = net.no_sync() if hasattr(net, "no_sync") and not boundary else nullcontext()
            with sync:
                terms = step_fn(batch)
                check_finite(terms["loss"], ctx, f"{desc}, batch {batch_index}")
                (terms["loss"] / accumulation).backward()
            size = len(batch["image"])
            for key, value in terms.items():
                state.add(key, value.item() * size)
            state.add("images", size)
        state.batch = batch_index + 1
        if boundary:
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(*clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state.optimizer_steps += 1
            maybe_kill(KILL_AT_STEP_ENV, state.optimizer_steps)
            if on_step is not None:
                on_step()


def save_stage(path: Path, state: StageState, ctx: DistContext, **parts: Any) -> None:
    """Rank 0 writes ``parts`` (modules, optimizers, schedulers: their ``state_dict()``; anything
    else as is) and the stage state, atomically."""
    if ctx.is_main:
        payload = {
            name: part.state_dict() if hasattr(part, "state_dict") else part
            for name, part in parts.items()
        }
        save_atomic({**payload, "state": dataclasses.asdict(state)}, path)


def load_stage(path: Path, ctx: DistContext, **parts: Any) -> tuple[StageState, dict] | None:
    """Load a stage checkpoint into ``parts`` (objects with ``load_state_dict``); return the
    stage state and the whole checkpoint, or ``None`` if there is none."""
    if not path.is_file():
        return None
    saved = load(path, ctx.device)
    try:
        for name, part in parts.items():
            part.load_state_dict(saved[name])
        return StageState(**saved["state"]), saved
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        detail = str(error).splitlines()[0][:200] if str(error) else repr(error)
        raise RunError(
            f"{path}: does not fit this run's stage ({type(error).__name__}: {detail}); it is "
            "another run's or damaged. Delete it to redo that stage from its start."
        ) from None


def every_steps(state: StageState, every: int, save: Callable[[], None]) -> Callable[[], None]:
    """``run_epoch``'s ``on_step``: ``save()`` after every ``every``-th optimizer step (never
    when ``every`` is 0; epoch ends are saved by the caller)."""

    def on_step() -> None:
        if every and state.optimizer_steps % every == 0:
            save()

    return on_step
