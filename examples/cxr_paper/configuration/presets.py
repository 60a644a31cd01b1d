"""The presets: what each changes in the paper's run (the defaults of
:class:`~cxr_paper.configuration.config.RunConfig`)."""

from __future__ import annotations

from typing import Any

#: What the demo changes in the paper's run (the defaults): two small timm ResNets from scratch on
#: the synthetic set at 128 px, 5 + 2 epochs at a demo's learning rates, and the ECR at the CAMs'
#: size (a third of the SEAM stage's time; the paper computes it at the image's size, as SEAM
#: does) -- the paper's central comparison in under 8 minutes on 2 CPU cores.
DEMO: dict[str, Any] = dict(
    data="synthetic",
    out="runs/demo",
    models=["resnet10t", "multires_resnet10t"],
    image_size=128,
    pretrained=["none"],
    head_dropout=[],
    finetune_policy=False,
    epochs=5,
    accumulation=1,
    lr=1e-3,
    pcm_epochs=2,
    pcm_lr=1e-3,
    pcm_overrides={},
    seam_overrides={"ecr_resolution": "cam"},
    synthetic_size=128,
    latency_repeats=20,
)

PRESETS: dict[str, dict[str, Any]] = {
    # the paper's values (the defaults; docs/design.md, "Paper facts"): the four models of Table 1
    # on the real data, from torchvision's weights
    "paper": {},
    "demo": DEMO,
    # seconds, for tests: the demo, smaller and shorter
    "smoke": dict(
        DEMO,
        out="runs/smoke",
        image_size=64,
        epochs=1,
        batch_size=8,
        pcm_epochs=1,
        seam_overrides={},
        channels_last=False,
        synthetic_patients=16,
        synthetic_size=64,
        figure_images=2,
        latency_repeats=2,
        checkpoint_every=2,
    ),
}
