"""The `paper` preset as a researcher will run it, shrunk to minutes on a CPU.

All four architectures (EfficientNet-B4 with its stage-2 override and head dropout), the
fine-tuning policy, channels_last, and one weights file per model made from randomly initialised
backbones (one of them a torchvision state dict, as the authors' weights are). The run is killed
after its second model and resumed: the first two are kept, not retrained.
"""

import json
import signal

import pytest
import timm
import torch
import torchvision
from script_runs import run_reproduce_paper

from cxr_paper.configuration.config import PAPER_MODELS
from cxr_paper.machine.runtime import KILL_AFTER_MODELS_ENV

pytestmark = pytest.mark.slow  # trains the four paper models

MODELS = list(PAPER_MODELS)
BACKBONES = {
    "resnet50": "resnet50",
    "multires_resnet50": "resnet50",
    "efficientnet_b4": "efficientnet_b4",
    "multires_efficientnet_b4": "efficientnet_b4",
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    files = {}
    for model, backbone in BACKBONES.items():
        torch.manual_seed(len(files))
        if model == "efficientnet_b4":  # torchvision's layout, ported on load
            state = torchvision.models.efficientnet_b4().state_dict()
        else:
            state = timm.create_model(backbone, num_classes=0).state_dict()
        files[model] = folder / f"{model}.pth"
        torch.save(state, files[model])
    return files


def _run(out, weights, *extra, kill_after=None):
    flags = ["--preset", "paper", "--data", "synthetic"]  # the paper preset means real data
    flags += ["--out", str(out), "--image-size", "64", "--synthetic-size", "64"]
    flags += ["--synthetic-patients", "10", "--epochs", "1", "--pcm-epochs", "1"]
    flags += ["--batch-size", "6", "--accumulation", "2", "--latency-repeats", "1"]
    flags += ["--figure-images", "1", "--device", "cpu", "--pretrained"]
    flags += [f"{model}={path}" for model, path in weights.items()]
    kill = None if kill_after is None else (KILL_AFTER_MODELS_ENV, kill_after)
    return run_reproduce_paper([*flags, *extra], kill)


def test_paper_preset_dry_run_killed_and_resumed(tmp_path, weights):
    out = tmp_path / "paper"
    killed = _run(out, weights, kill_after=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    partial = json.loads((out / "metrics.json").read_text())
    assert list(partial) == MODELS[:2]
    assert "Not finished yet" in (out / "report.md").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "paper" and config["finetune_policy"] and config["channels_last"]
    stamps = {p: p.stat().st_mtime_ns for m in MODELS[:2] for p in (out / m).iterdir()}

    resumed = _run(out, weights, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # the first two were kept
    assert "finished in an earlier session, kept" in resumed.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == MODELS
    report = (out / "report.md").read_text()
    assert "Not finished yet" not in report
    for model in MODELS:
        assert f"| {model} |" in report
        assert (out / model / "pretrained" / "model.safetensors").is_file()
    b4 = metrics["multires_efficientnet_b4"]
    assert b4["params"]["published_configuration"] == 18_913_543
    assert len(b4["history"]["pcm_loss"]) == 1  # the preset's B4 override: one PCM epoch
    from safetensors.torch import load_file

    final = load_file(out / "efficientnet_b4" / "pretrained" / "model.safetensors")
    torch.manual_seed(2)  # the file's seed (third model)
    source = torchvision.models.efficientnet_b4().state_dict()
    # frozen by the fine-tuning policy: the stem still holds the torchvision file's weights
    stem = final["classifier.backbone.conv_stem.weight"]
    torch.testing.assert_close(stem, source["features.0.0.weight"])
