"""The exported ONNX graph against the PyTorch model, in onnxruntime: every output, standard and
multi-resolution models, dynamic and fixed batch, random and synthetic inputs.

Tolerance: 1e-4 absolute on probabilities, CAMs and refined maps (float32; the largest
difference seen here is about 5e-7)."""

from __future__ import annotations

import json

import export_onnx
import numpy as np
import predict
import pytest
import torch
from torchvision import tv_tensors

from cxr14_data import CLASSES, paper_transforms
from cxr14_data.synthetic import render_image
from cxr_paper.deploy.pretrained import CXRLocalizer
from cxr_paper.errors import RunError

TOLERANCE = 1e-4
SIZE = 64


def _model(architecture: str, image_channels: int = 0) -> CXRLocalizer:
    torch.manual_seed(0)
    model = CXRLocalizer(
        architecture,
        list(CLASSES),
        image_size=SIZE,
        pcm_image_channels=image_channels,
        operating_points={"rule": "youden", "thresholds": {"Nodule": 0.3}},
        temperature=1.7,
    )
    for module in model.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return model


def _synthetic_batch(count: int) -> torch.Tensor:
    images = []
    for patient in range(count):
        gray, _ = render_image(0, patient, 0, ["Nodule", "Effusion"], 128)
        empty = tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYWH", canvas_size=(128, 128))
        image, _ = paper_transforms(train=False, size=SIZE)(
            tv_tensors.Image(torch.from_numpy(gray)[None]), empty
        )
        images.append(image)
    return torch.stack(images)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, onnxruntime):
    """``{(architecture, batch): (model, OnnxLocalizer)}``."""
    from cxr_paper.deploy.onnx_model import OnnxLocalizer, export_onnx

    folder = tmp_path_factory.mktemp("onnx")
    found = {}
    for architecture, channels in (("resnet10t", 0), ("multires_resnet10t", 3)):
        model = _model(architecture, channels)
        for batch in (None, 4):
            path = export_onnx(model, folder / f"{architecture}_{batch}.onnx", batch_size=batch)
            found[architecture, batch] = (model, OnnxLocalizer(path))
    return found


@pytest.mark.parametrize("architecture", ["resnet10t", "multires_resnet10t"])
@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("inputs", ["random", "synthetic"])
def test_every_output_matches_pytorch(exported, architecture, batch, inputs):
    model, graph = exported[architecture, batch]
    images = (
        torch.randn(5, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
        if inputs == "random"
        else _synthetic_batch(5)
    )
    ours, theirs = model(images), graph(images)  # 5: a fixed batch of 4 runs twice, padded
    for name, a, b in zip(("probs", "cams", "refined"), ours, theirs, strict=True):
        assert a.shape == b.shape, name
        assert float((a - b).abs().max()) < TOLERANCE, name
    assert float(ours.refined.abs().max()) > 0.01  # the comparison is not of zeros


def test_the_file_states_its_opset_batch_and_config(exported):
    import onnx

    model, graph = exported["multires_resnet10t", None]
    proto = onnx.load(str(graph.path))
    assert {o.domain: o.version for o in proto.opset_import}[""] == 18
    assert graph.batch_size == "batch" and exported["resnet10t", 4][1].batch_size == 4
    assert [o.name for o in proto.graph.output] == ["probabilities", "cams", "refined"]
    assert graph.classes == list(CLASSES) and graph.image_size == SIZE
    assert graph.decision_thresholds() == model.decision_thresholds()
    assert graph.temperature == 1.7 and graph.normalization == model.normalization


def test_damaged_or_foreign_files_are_refused(tmp_path, onnxruntime):
    import onnx
    from onnx import TensorProto, helper

    from cxr_paper.deploy.model_loading import load_model
    from cxr_paper.deploy.onnx_model import OnnxLocalizer

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07not a protobuf")
    with pytest.raises(RunError, match="broken.onnx: not an ONNX model"):
        OnnxLocalizer(broken)
    node = helper.make_node("Identity", ["images"], ["probabilities"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), foreign)
    with pytest.raises(RunError, match="no cxr_localizer_config metadata"):
        OnnxLocalizer(foreign)
    with pytest.raises(RunError, match="no such file"):
        load_model(tmp_path / "missing.onnx")


def test_wrong_input_shape_is_named(exported):
    _, graph = exported["resnet10t", None]
    with pytest.raises(ValueError, match=r"expected images \(B, 3, 64, 64\), got \(2, 3, 32, 32\)"):
        graph(torch.zeros(2, 3, 32, 32))


def test_export_script_checks_the_graph_and_predict_runs_it(tmp_path, onnxruntime):
    model = _model("multires_resnet10t")
    model.save_pretrained(tmp_path / "saved")
    target = tmp_path / "model.onnx"
    args = ["--model", str(tmp_path / "saved"), "--out", str(target)]
    differences = export_onnx.main(export_onnx.get_args_parser().parse_args(args))
    assert max(differences.values()) < TOLERANCE
    with pytest.raises(RunError, match="exists; pass --overwrite"):
        export_onnx.main(export_onnx.get_args_parser().parse_args(args))
    gray, _ = render_image(0, 3, 0, ["Mass"], 150)
    image = tmp_path / "scan.png"
    from PIL import Image

    Image.fromarray(gray).save(image)
    results = {}
    for kind, where in (("torch", tmp_path / "saved"), ("onnx", target)):
        argv = [str(image), "--model", str(where), "--out", str(tmp_path / kind)]
        assert (
            predict.main(predict.get_args_parser().parse_args([*argv, "--prob-threshold", "0"]))
            == 0
        )
        results[kind] = json.loads((tmp_path / kind / "scan.json").read_text())
    torch_result, onnx_result = results["torch"], results["onnx"]
    assert onnx_result["predicted"] == torch_result["predicted"] == list(CLASSES)
    assert onnx_result["probabilities"] == pytest.approx(torch_result["probabilities"], abs=1e-5)
    assert onnx_result["calibrated_probabilities"] == pytest.approx(
        torch_result["calibrated_probabilities"], abs=1e-5
    )
    same_boxes = sum(onnx_result["boxes"][c] == torch_result["boxes"][c] for c in CLASSES)
    assert same_boxes >= len(CLASSES) - 1  # a map value at Q within 1e-6 could flip one pixel
    assert np.sum([len(b) for b in onnx_result["boxes"].values()]) > 0


def test_a_missing_deploy_dependency_is_one_line(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_highdicom(name, *args, **kwargs):
        if name == "highdicom":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_highdicom)
    argv = ["a.dcm", "--model", str(tmp_path), "--out", str(tmp_path / "p"), "--dicom"]
    with pytest.raises(RunError, match=r"--dicom needs highdicom: pip install .*\[deploy\]"):
        predict.main(predict.get_args_parser().parse_args(argv))
