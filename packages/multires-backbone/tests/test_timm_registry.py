"""timm.create_model builds the multi-resolution models, with a pretrained_cfg timm can read."""

import pytest
import timm
import torch

from multires_backbone import TIMM_NAMES, create_model


def test_registered_in_timm():
    assert set(TIMM_NAMES) <= set(timm.list_models("multires_*"))
    assert {"multires_resnet50", "multires_efficientnet_b4"} <= set(TIMM_NAMES)


@pytest.mark.parametrize("name", ["multires_resnet18", "multires_efficientnet_b0"])
def test_timm_builds_what_create_model_builds(name):
    torch.manual_seed(0)
    through_timm = timm.create_model(name, num_classes=5, gamma=4.0).eval()
    torch.manual_seed(0)
    direct = create_model(name, num_classes=5, gamma=4.0).eval()
    a, b = through_timm.state_dict(), direct.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(through_timm(x).cams, direct(x).cams)
    assert through_timm.num_classes == 5 and through_timm.pool.gamma == 4.0


def test_pretrained_cfg_drives_timms_transforms():
    model = timm.create_model("multires_resnet18", num_classes=14)
    config = timm.data.resolve_data_config({}, model=model)
    assert config["input_size"] == (3, 256, 256)
    assert (config["mean"], config["std"]) == tuple(map(tuple, model.normalization))
    assert model.pretrained_cfg["classifier"] == "classifier"
    transform = timm.data.create_transform(**config)
    from PIL import Image

    assert tuple(transform(Image.new("RGB", (300, 280))).shape) == (3, 256, 256)


def test_pretrained_weights_file_through_timm(tmp_path):
    torch.manual_seed(1)
    source = timm.create_model("resnet18", num_classes=0)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model = timm.create_model("multires_resnet18", pretrained=str(path), num_classes=14)
    loaded = model.backbone.state_dict()
    reference = {k: v for k, v in source.state_dict().items() if k in loaded}
    assert reference and all(torch.equal(loaded[k], v) for k, v in reference.items())


def test_overlay_is_applied():
    model = timm.create_model(
        "multires_resnet18", pretrained_cfg_overlay={"input_size": (3, 512, 512)}
    )
    assert model.pretrained_cfg["input_size"] == (3, 512, 512)
