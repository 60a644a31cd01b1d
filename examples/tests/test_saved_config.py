"""A saved model's settings are one type, :class:`SavedModelConfig`, written and read by the
PyTorch folder and the ONNX export alike."""

import json

import pytest

from cxr_paper.deploy.model_config import SavedModelConfig
from cxr_paper.deploy.onnx_model import CONFIG_FIELDS, NOT_IN_ONNX, model_config
from cxr_paper.deploy.pretrained import CXRLocalizer


def test_the_folders_config_json_is_the_saved_config(tmp_path):
    points = {"rule": "youden", "thresholds": {"A": 0.3}}
    model = CXRLocalizer("resnet10t", ["A", "B"], image_size=64, operating_points=points)
    model.save_pretrained(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert SavedModelConfig.from_json(written) == model.saved_config
    assert written == model.saved_config.to_json()
    again = CXRLocalizer.from_pretrained(tmp_path)
    assert again.saved_config == model.saved_config


def test_the_onnx_metadata_carries_every_field_but_the_pcms_input():
    model = CXRLocalizer("resnet10t", ["A", "B"], image_size=64)
    carried = model_config(model)
    assert tuple(carried) == CONFIG_FIELDS
    assert set(CONFIG_FIELDS) | set(NOT_IN_ONNX) == set(model.saved_config.to_json())
    assert SavedModelConfig.from_json(carried) == model.saved_config  # pcm input 0: the default


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"architecture": "resnet10t"}, r"lacks \['classes'\]"),
        (
            {"architecture": "resnet10t", "classes": ["A"], "colour": 1},
            r"unknown fields \['colour'\]",
        ),
        ({"architecture": "resnet10t", "classes": "AB"}, "classes 'AB' is not a list"),
        ({"architecture": "nope", "classes": ["A"]}, "architecture 'nope'"),
        ([1, 2], "expected an object"),
    ],
)
def test_a_bad_config_is_named(values, named):
    with pytest.raises(ValueError, match=named):
        SavedModelConfig.from_json(values)
