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
    """Where a stage stands; saved with every checkpoint of the stage.

    Attributes:
        epoch: The epoch under way.
        batch: Batches of it done.
        optimizer_steps: Steps taken in all.
        totals: This epoch's running sums (``images``, ``skipped``, each loss term × batch size).
        history: Per name, one value per finished epoch.
        best_score: The best validation score so far.
        skipped_names: Unreadable images skipped so far.
    """

    epoch: int = 0
    batch: int = 0
    optimizer_steps: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=dict)
    best_score: float = -math.inf
    skipped_names: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.totals[key] = self.totals.get(key, 0.0) + value

    @classmethod
    def from_saved(cls, saved: Any, where: Path) -> StageState:
        """The state a checkpoint holds, each field checked (a checkpoint re-saved by hand with
        a recomputed checksum passes the byte check, not this one); a :class:`RunError` names
        the field.

        Examples:
            >>> StageState.from_saved({"epoch": "one"}, Path("stage1_last.pt"))
            Traceback (most recent call last):
            cxr_paper.errors.RunError: stage1_last.pt: its stage state's epoch is 'one', ...
        """
        if not isinstance(saved, dict) or set(saved) - {f.name for f in dataclasses.fields(cls)}:
            raise RunError(f"{where}: its stage state is not this project's; delete the file.")
        state = cls(**saved)

        def refuse(name: str, expected: str) -> RunError:
            return RunError(
                f"{where}: its stage state's {name} is {getattr(state, name)!r}, expected "
                f"{expected}; the file was edited or is another program's. Delete it to redo "
                "the stage from its start."
            )

        for name in ("epoch", "batch", "optimizer_steps"):
            value = getattr(state, name)
            if not _is_int(value) or value < 0:
                raise refuse(name, "a count (an integer >= 0)")
        if not _is_number(state.best_score) or math.isnan(state.best_score):
            raise refuse("best_score", "a number")
        if not isinstance(state.totals, dict) or not all(
            isinstance(k, str) and _is_number(v) for k, v in state.totals.items()
        ):
            raise refuse("totals", "names and numbers")
        if not isinstance(state.history, dict) or not all(
            isinstance(k, str) and isinstance(v, list) for k, v in state.history.items()
        ):
            raise refuse("history", "names and lists")
        if not isinstance(state.skipped_names, list) or not all(
            isinstance(n, str) for n in state.skipped_names
        ):
            raise refuse("skipped_names", "a list of image names")
        return state

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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_finite(loss: torch.Tensor, ctx: DistContext, where: str) -> None:
    """Stop every rank together on a NaN/inf loss, before it touches the weights.

    Args:
        loss: This rank's loss, a scalar tensor.
        ctx: The process's context.
        where: The stage and step, for the message.

    Raises:
        RunError: Some rank's loss is not finite.
    """
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

    Args:
        net: The module that trains (``train()`` is set).
        loader: Batches of dicts.
        step_fn: ``(net, batch) -> (loss, {term: value})``.
        optimizer: Its optimizer.
        state: The stage's state; updated in place.
        ctx: The process's context.
        desc: The progress bar's label.
        accumulation: Batches per optimizer step.
        total: Batches in the epoch (for the progress bar).
        clip: ``(params, max_norm)``, or ``None``.
        on_step: Called after each optimizer step.
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
    else as is) and the stage state, atomically.

    Args:
        path: The checkpoint file.
        state: The stage's state.
        ctx: The process's context.
        **parts: What to save with it, by name.
    """
    if ctx.is_main:
        payload = {
            name: part.state_dict() if hasattr(part, "state_dict") else part
            for name, part in parts.items()
        }
        save_atomic({**payload, "state": dataclasses.asdict(state)}, path)


def load_stage(path: Path, ctx: DistContext, **parts: Any) -> tuple[StageState, dict] | None:
    """Load a stage checkpoint into ``parts`` (objects with ``load_state_dict``); return the
    stage state and the whole checkpoint, or ``None`` if there is none.

    Args:
        path: The checkpoint file.
        ctx: The process's context.
        **parts: What to restore, by the names they were saved under.

    Returns:
        ``(state, checkpoint)`` or ``None``.

    Raises:
        RunError: The file is damaged or its state is not this project's.
    """
    if not path.is_file():
        return None
    saved = load(path, ctx.device)
    try:
        state = StageState.from_saved(saved.get("state"), path)
        for name, part in parts.items():
            part.load_state_dict(saved[name])
        return state, saved
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        detail = str(error).splitlines()[0][:200] if str(error) else repr(error)
        raise RunError(
            f"{path}: does not fit this run's stage ({type(error).__name__}: {detail}); it is "
            "another run's or damaged. Delete it to redo that stage from its start."
        ) from None


def every_steps(state: StageState, every: int, save: Callable[[], None]) -> Callable[[], None]:
    """``run_epoch``'s ``on_step``: ``save()`` after every ``every``-th optimizer step (never
    when ``every`` is 0; epoch ends are saved by the caller).

    Args:
        state: The stage's state (its ``optimizer_steps``).
        every: Steps between saves; 0 for none.
        save: Saves the checkpoint.

    Returns:
        The ``on_step`` callback.
    """

    def on_step() -> None:
        if every and state.optimizer_steps % every == 0:
            save()

    return on_step
