import pytest
import torch
from safetensors.torch import save_file

import multires_backbone._pretrained as pretrained_module
from multires_backbone import (
    PretrainedWeightsError,
    create_backbone,
    create_model,
    list_models,
    resolve_config,
)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _pcm_embedding(channels: int) -> torch.nn.Module:
    """The PCM's only parameters in the published count: a bias-free 1x1 conv C -> C/2."""
    return torch.nn.Conv2d(channels, channels // 2, kernel_size=1, bias=False)


class TestTable4ParameterCounts:
    """Table 4 of D'Souza et al. 2022, as counted by the authors (see DESIGN §3)."""

    @pytest.mark.parametrize(
        ("name", "expected"), [("resnet50", 23_536_718), ("efficientnet_b4", 17_573_718)]
    )
    def test_standard(self, name, expected):
        assert _count(create_model(name, num_classes=14)) == expected

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("multires_resnet50", 26_273_615), ("multires_efficientnet_b4", 18_913_543)],
    )
    def test_multires_published(self, name, expected):
        model = create_model(name, num_classes=14, extra_outputs=1)
        assert _count(model) + _count(_pcm_embedding(model.num_features)) == expected

    @pytest.mark.parametrize(
        ("name", "channels", "cam_side"),
        [("multires_resnet50", 512, 32), ("multires_efficientnet_b4", 208, 32)],
    )
    def test_published_feature_maps(self, name, channels, cam_side):
        model = create_model(name).eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, 256, 256))
        assert out.features.shape == (1, channels, cam_side, cam_side)


class TestRegistry:
    def test_list_models(self):
        assert list_models() == sorted(list_models())
        assert {
            "resnet50",
            "efficientnet_b4",
            "multires_resnet50",
            "multires_efficientnet_b4",
        } <= set(list_models())

    def test_resolve_timm_names(self):
        assert resolve_config("multires_resnet18").multires
        assert not resolve_config("resnet18").multires
        assert resolve_config("multires_efficientnet_b4").merge_style == "concat"

    @pytest.mark.parametrize("name", ["resnet_5000", "multires_", "multires_nope", ""])
    def test_unknown_name_lists_valid_ones(self, name):
        with pytest.raises(
            ValueError, match=r"Unknown model.*multires_resnet50.*multires_<timm name>"
        ):
            create_model(name)


class TestPretrained:
    @pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
    def test_local_file(self, tmp_path, suffix):
        import timm

        source = timm.create_model("resnet10t", num_classes=0)
        path = tmp_path / f"weights{suffix}"
        state = {k: v.contiguous() for k, v in source.state_dict().items()}
        if suffix == ".safetensors":
            save_file(state, str(path))
        else:
            torch.save(state, path)
        model = create_model("multires_resnet10t", pretrained=path)
        for key, value in source.state_dict().items():
            torch.testing.assert_close(model.backbone.state_dict()[key], value, rtol=0, atol=0)

    def test_local_file_into_one_channel_stem(self, tmp_path):
        import timm

        source = timm.create_model("resnet10t", num_classes=0)
        path = tmp_path / "weights.pth"
        torch.save(source.state_dict(), path)
        model = create_model("resnet10t", pretrained=path, in_chans=1)
        stem = source.state_dict()["conv1.0.weight"]
        torch.testing.assert_close(model.backbone.conv1[0].weight, stem.sum(dim=1, keepdim=True))

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="nope.pth"):
            create_model("resnet10t", pretrained=tmp_path / "nope.pth")

    def test_wrong_suffix(self, tmp_path):
        path = tmp_path / "weights.txt"
        path.write_text("x")
        with pytest.raises(PretrainedWeightsError, match=r"weights.txt"):
            create_model("resnet10t", pretrained=path)

    def test_wrong_architecture_names_the_file(self, tmp_path):
        path = tmp_path / "other.pth"
        torch.save({"foo.weight": torch.zeros(3)}, path)
        with pytest.raises(PretrainedWeightsError, match=r"other.pth.*resnet10t"):
            create_model("resnet10t", pretrained=path)

    def test_offline_download_says_how_to_pass_a_file(self, monkeypatch):
        def offline(*args, **kwargs):
            if kwargs.get("pretrained"):
                raise OSError("We couldn't connect to 'https://huggingface.co'")
            raise AssertionError("unexpected call")

        monkeypatch.setattr(pretrained_module.timm, "create_model", offline)
        with pytest.raises(PretrainedWeightsError, match=r"pretrained='/path/to/resnet50"):
            create_backbone("resnet50", pretrained=True)
