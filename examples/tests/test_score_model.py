"""score_model.py scores this project's saved models, a timm model and a torchxrayvision DenseNet
(untrained: nothing downloads) on the synthetic set, into the report's tables and report.html."""

import json
import math

import numpy as np
import pytest
import score_model

from cxr14_data import BOX_CLASSES, CLASSES
from cxr_paper.configuration.task import chestxray14
from cxr_paper.errors import RunError
from cxr_paper.files.jsonio import strict
from cxr_paper.files.typed_json import from_json, to_json
from cxr_paper.scoring.foreign_models import load_foreign
from cxr_paper.scoring.model_metrics import ModelScore, read_metrics


def _score(tmp_path, *flags):
    out = tmp_path / "score"
    args = score_model.get_args_parser().parse_args(
        [*flags, "--preset", "smoke", "--bootstrap-resamples", "50", "--out", str(out)]
    )
    return score_model.main(args), out


def _check_outputs(entry, out, kinds):
    assert list(entry.localization) == kinds
    assert set(entry.auroc) == {*CLASSES, "mean"}
    for kind in kinds:
        accuracy = entry.localization[kind].fixed["mean"].accuracy
        assert math.isnan(accuracy) or 0 <= accuracy <= 1
        assert "max_box_acc_v2" in entry.intervals.localization[kind]
    text = (out / "score.md").read_text()
    assert "| mean AUROC, 14 classes |" in text and "## Accuracy at IoBB > 0.1 per class" in text
    saved = from_json(ModelScore, json.loads((out / "score.json").read_text()))
    assert saved.model == entry.model and saved.intervals == entry.intervals
    assert (out / "report.html").is_file() and (out / "test_records.npz").is_file()
    # each kind's maps file is named as the scores name it (a foreign model's maps were
    # written as maps/cam.npz beside a score that calls them hirescam)
    assert {p.stem for p in (out / "maps").glob("*.npz")} == set(entry.localization)


def test_a_saved_model_with_its_pcm_and_a_gradient_method(smoke_run, tmp_path):
    out, _ = smoke_run
    entry, folder = _score(
        tmp_path, "--model", str(out / "multires_resnet10t"), "--methods", "cam", "gradcam"
    )
    _check_outputs(entry, folder, ["cam", "pcm", "gradcam", "gradcam+pcm"])
    # the same model, data and protocol as the run: the CAM rows are the run's own numbers
    run = read_metrics(out / "metrics.json")["multires_resnet10t"]
    assert strict(to_json(entry.auroc)) == strict(to_json(run.auroc))
    assert strict(to_json(entry.localization["cam"].iobb)) == strict(
        to_json(run.localization["cam"].iobb)
    )


def test_an_exported_onnx_model_scores_as_its_pytorch_model(smoke_run, tmp_path, onnxruntime):
    from cxr_paper.deploy.onnx_model import export_onnx
    from cxr_paper.deploy.pretrained import load_pretrained

    out, _ = smoke_run
    graph = export_onnx(load_pretrained(out / "multires_resnet10t"), tmp_path / "model.onnx")
    entry, folder = _score(tmp_path, "--model", str(graph))
    _check_outputs(entry, folder, ["cam", "pcm"])
    assert "onnxruntime" in entry.description
    run = read_metrics(out / "metrics.json")["multires_resnet10t"]
    assert entry.auroc["mean"] == pytest.approx(run.auroc["mean"], abs=1e-4)
    for kind in ("cam", "pcm"):  # the PCM's maps are the graph's own output
        ours = entry.localization[kind].fixed["mean"].accuracy
        assert ours == pytest.approx(run.localization[kind].fixed["mean"].accuracy, abs=0.02)
    with pytest.raises(RunError, match="no gradients"):
        _score(tmp_path / "again", "--model", str(graph), "--methods", "gradcam")


def test_a_timm_model(tmp_path):
    entry, out = _score(tmp_path, "--model", "timm:resnet18", "--methods", "hirescam")
    _check_outputs(entry, out, ["hirescam"])
    assert "maps at `layer4`" in entry.description


def test_a_torchxrayvision_densenet(tmp_path, xrv):
    entry, out = _score(tmp_path, "--model", "xrv:none", "--methods", "gradcam++")
    _check_outputs(entry, out, ["gradcam++"])
    assert entry.missing_classes == []


def test_xrv_outputs_follow_its_label_order(xrv):
    import torch

    loaded = load_foreign("xrv:none", "gradcam", chestxray14())
    targets = list(loaded.model.network.targets)
    assert loaded.model.output_index == [targets.index(c) for c in CLASSES]
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 64)
    out = loaded.model(images)
    raw = loaded.model.network(loaded.model.to_input(images)).detach()
    for k, name in enumerate(CLASSES):
        torch.testing.assert_close(out.logits[:, k], raw[:, targets.index(name)])
    box = [CLASSES.index(c) for c in BOX_CLASSES]
    others = [k for k in range(14) if k not in box]
    assert out.cams[:, box].abs().sum() > 0 and np.all(out.cams[:, others].numpy() == 0)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model", "timm:resnet18", "--methods", "cam"], "give one of"),
        (["--model", "timm:resnet18", "--methods", "gradcam", "hirescam"], "give one of"),
        (["--model", "timm:resnet18", "--methods", "gradcam+"], "expected 'cam' or some of"),
        (["--model", "nothing:here"], "expected timm:NAME, xrv:WEIGHTS"),
        (["--model", "timm:resnet18", "--weights", "missing.pth"], "--weights missing.pth: not"),
    ],
)
def test_bad_requests_are_one_line(tmp_path, flags, message):
    with pytest.raises(RunError, match=message):
        _score(tmp_path, *flags)


def test_unknown_xrv_weights_are_one_line(tmp_path, xrv):
    with pytest.raises(RunError, match="--model xrv:no-such-weights"):
        _score(tmp_path, "--model", "xrv:no-such-weights")


def test_xrv_input_is_torchxrayvision_normalize(xrv):
    """The loader's ImageNet-normalised 3-channel image becomes what torchxrayvision's own
    ``utils.normalize(img, 255)`` (torchxrayvision/utils.py, ``normalize``) makes of the gray
    image: one channel in [-1024, 1024]."""
    import torch

    from cxr14_data import IMAGENET_MEAN, IMAGENET_STD

    gray = np.random.default_rng(0).integers(0, 256, (2, 16, 16)).astype(np.float32)
    rgb = torch.from_numpy(gray / 255)[:, None].expand(-1, 3, -1, -1)
    mean, std = (torch.tensor(v)[None, :, None, None] for v in (IMAGENET_MEAN, IMAGENET_STD))
    loaded = load_foreign("xrv:none", "gradcam", chestxray14())
    ours = loaded.model.to_input((rgb - mean) / std)
    theirs = np.stack([xrv.utils.normalize(g, 255, reshape=True) for g in gray])
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-2)


def test_names_in_score_md_are_text_not_markup():
    """The model's path, the data's description and the task's names come from the user and
    from files: each a code span in score.md, never a link."""
    from result_factories import TASK, interval

    from cxr_paper.configuration.protocol import PAPER_PROTOCOL
    from cxr_paper.configuration.task import Task
    from cxr_paper.reporting.score_report import score_document
    from cxr_paper.scoring.interval_types import ModelIntervals

    task = Task("[set](http://evil)", TASK.classes, TASK.box_classes, TASK.box_frame)
    entry = ModelScore(
        model="[model](http://evil)", description="d", data="[data](http://evil)",
        image_size=64, missing_classes=["[A](http://evil)"], auroc={"mean": 0.5},
        localization={}, localization_images=0, task=task,
        intervals=ModelIntervals({"mean": interval(0.5)}), intervals_cover="",
    )  # fmt: skip
    text = score_document(entry, PAPER_PROTOCOL).to_markdown()
    for name in ("[model](http://evil)", "[set](http://evil)", "[data](http://evil)"):
        assert f"`{name}`" in text
    assert "`[A](http://evil)`" in text
