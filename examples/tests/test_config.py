"""The run settings: the defaults are the paper's stated values, the demo is a list of changes."""

import dataclasses

import pytest

from cxr_paper.configuration.cli import validate
from cxr_paper.configuration.config import RunConfig, preset_values
from cxr_paper.configuration.presets import PRESETS
from cxr_paper.configuration.seam_objective import seam_loss
from cxr_paper.errors import RunError
from pcm_seam import SEAMLoss

# D'Souza et al. 2022 as its text states them (§5.1 training, §5.2 data, Table 1 models); the
# head dropout and torchvision's weights are the authors' code's (docs/design.md, "Paper facts").
PAPER = {
    "models": ["resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4"],
    "image_size": 256,
    "pretrained": ["torchvision"],
    "head_dropout": ["0", "efficientnet_b4=0.4", "multires_efficientnet_b4=0.4"],
    "finetune_policy": True,
    "lse_gamma": 10.0,
    "epochs": 35,
    "batch_size": 32,
    "accumulation": 3,
    "lr": 3e-4,
    "betas": [0.9, 0.9],
    "weight_decay": 0.0,
    "plateau_patience": 6,
    "min_lr": 1e-7,
    "crop_scale": [0.8, 1.0],
    "crop_ratio": [0.75, 1.733],
    "rotation": 15.0,
    "pcm_epochs": 3,
    "pcm_lr": 1e-6,
    "pcm_overrides": {"multires_efficientnet_b4": [1e-5, 1], "efficientnet_b4": [1e-5, 1]},
    "grad_clip": 2.0,
    "seam_variant": "paper",
    "seam_overrides": {},
    "heatmap_threshold": 0.7,
    "prob_threshold": 0.5,
    "no_finding": 5000,
    "val_fraction": 0.2,
    "box_frame": [1024, 1024],
}


def test_the_defaults_are_the_papers_values():
    defaults = dataclasses.asdict(RunConfig())
    assert {key: defaults[key] for key in PAPER} == PAPER
    assert PRESETS["paper"] == {}  # the paper preset is the defaults
    assert defaults["data"] == ""  # and names no data: the real set must be given


def test_the_papers_seam_objective():
    expected = SEAMLoss(lambda_msml=1.5, lambda_ecr=1.0, max_angle=30.0, keep=0.2)
    assert seam_loss(RunConfig()).extra_repr() == expected.extra_repr()


def test_demo_changes_only_what_it_lists():
    demo, paper = preset_values("demo"), preset_values("paper")
    changed = {key for key in paper if demo[key] != paper[key]} - {"preset"}
    assert changed == set(PRESETS["demo"])


def test_smoke_is_the_demo_made_smaller():
    smoke, demo = preset_values("smoke"), preset_values("demo")
    assert smoke["models"] == demo["models"] and smoke["pretrained"] == demo["pretrained"]
    assert smoke["epochs"] < demo["epochs"] and smoke["image_size"] < demo["image_size"]


def test_one_seam_mapping_with_overrides():
    config = RunConfig(seam_variant="seam", seam_overrides={"max_angle": 15.0})
    assert seam_loss(config).extra_repr() == SEAMLoss.variant("seam", max_angle=15.0).extra_repr()
    with pytest.raises(RunError, match="--seam-overrides.*no_such_switch"):
        seam_loss(RunConfig(seam_overrides={"no_such_switch": 1}))


def test_a_run_saved_under_a_former_variant_name_still_loads(tmp_path):
    """Runs written before ``landed`` became ``masked-cam-scale`` validate and train the same."""
    RunConfig(**{**preset_values("smoke"), "seam_variant": "landed"}).save(tmp_path)
    old = RunConfig.load(tmp_path)
    with pytest.warns(FutureWarning, match="now called 'masked-cam-scale'"):
        validate(old)  # checks the objective's transform at the run's input size
    with pytest.warns(FutureWarning, match="now called 'masked-cam-scale'"):
        loss = seam_loss(old)
    expected = seam_loss(dataclasses.replace(old, seam_variant="masked-cam-scale"))
    assert loss.objective == expected.objective


def test_load_is_the_inverse_of_save(tmp_path):
    config = RunConfig(**{**preset_values("demo"), "epochs": 2, "seam_overrides": {"keep": 0.3}})
    config.save(tmp_path)
    assert RunConfig.load(tmp_path) == config
    with pytest.raises(RunError, match="no config.json"):
        RunConfig.load(tmp_path / "elsewhere")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="not readable JSON"):
        RunConfig.load(tmp_path)
