"""Stage 2: the PCM trained with SEAM on the frozen classifier, the objective a run's settings
name, and every SEAM term recorded per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.seam_objective import seam_loss
from cxr_paper.learning.stage_loop import StageState, every_steps, load_stage, run_epoch, save_stage
from cxr_paper.machine.distributed import DistContext, gather
from cxr_paper.machine.runtime import (
    autocast,
    autocast_dtype,
    prepare_images,
    wrap_for_training,
)
from multires_backbone import CAMClassifier
from pcm_seam import PCM, SEAMLossOutput, freeze_model, seam_step

#: The SEAM objective's terms (each before its weight), as the training history names them: every
#: field of :class:`pcm_seam.SEAMLossOutput` but the total, so a new term reaches the history and
#: Fig. 5 without a change here.
SEAM_TERMS: tuple[str, ...] = tuple(f for f in SEAMLossOutput._fields if f != "loss")
#: Stage-2 history per epoch (name -> running total it averages): the SEAM loss and its terms.
PCM_HISTORY = {"pcm_loss": "loss", **{term: term for term in SEAM_TERMS}}


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

    Args:
        name: The model's name (its folder and progress label).
        model: The trained classifier; frozen here.
        loaders: The run's :class:`~cxr_paper.inputs.data.Loaders`.
        config: The run's settings.
        folder: The model's folder; stage-2 checkpoints go there.
        ctx: The process's context.
        resume: Continue from the stage's checkpoint.

    Returns:
        ``(pcm, history)``: the trained PCM and, per SEAM term, its value per epoch.
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
    state = StageState()
    saved = load_stage(last, ctx, pcm=pcm, optimizer=optimizer) if resume else None
    if saved is not None:
        state, checkpoint = saved
        generator.set_state(checkpoint["generators"][ctx.rank])
    freeze_model(model)
    net = wrap_for_training(pcm, ctx)

    def step(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        images = prepare_images(batch["image"], ctx.device, config.channels_last)
        labels = batch["labels"].to(ctx.device)
        with autocast(amp, ctx.device):
            out = seam_step(model, net, images, labels, loss_fn, generator)
        return {name: getattr(out, name) for name in ("loss", *SEAM_TERMS)}

    def save() -> None:
        generators = gather(generator.get_state(), ctx)  # every rank's angle stream
        save_stage(last, state, ctx, pcm=pcm, optimizer=optimizer, generators=generators)

    on_step = every_steps(state, config.checkpoint_every, save)

    while state.epoch < epochs:
        epoch = state.epoch
        loaders.train_sampler.set_epoch(epoch, start=state.batch * config.batch_size)
        run_epoch(
            net,
            loaders.train,
            step,
            optimizer,
            state,
            ctx,
            f"{name} SEAM epoch {epoch + 1}",
            accumulation=config.accumulation,
            clip=(list(pcm.parameters()), config.grad_clip),
            on_step=on_step,
        )
        totals = state.end_epoch(ctx)
        seen = max(totals.get("images", 0), 1)
        state.record(**{k: totals.get(v, 0.0) / seen for k, v in PCM_HISTORY.items()})
        save()
    return pcm, state.history
