import pytest
import torch
from safetensors.torch import save_file

import multires_backbone._pretrained as pretrained_module
from multires_backbone import (
    PretrainedWeightsError,
    create_backbone,
    create_model,
    is_multires,
    list_models,
    port_state_dict,
    published_parameter_count,
    resolve_config,
)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _pcm_embedding(channels: int) -> torch.nn.Module:
    """The PCM's only parameters in the published count: a bias-free 1x1 conv C -> C/2."""
    return torch.nn.Conv2d(channels, channels // 2, kernel_size=1, bias=False)


class TestTable4ParameterCounts:
    """Table 4 of D'Souza et al. 2022, as counted by the authors (docs/design.md, "Paper facts")."""

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
        ("name", "expected"),
        [
            ("resnet50", 23_536_718),
            ("efficientnet_b4", 17_573_718),
            ("multires_resnet50", 26_273_615),
            ("multires_efficientnet_b4", 18_913_543),
        ],
    )
    def test_published_parameter_count(self, name, expected):
        assert published_parameter_count(name) == expected
        assert is_multires(name) == name.startswith("multires_")

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


class TestTorchvisionWeights:
    """The paper's authors start from torchvision's ImageNet weights (docs/design.md)."""

    @pytest.mark.parametrize("name", ["efficientnet_b0", "resnet18"])
    def test_ported_file_computes_what_torchvision_computes(self, tmp_path, name):
        import torchvision

        torch.manual_seed(0)
        tv_model = torchvision.models.get_model(name).eval()
        for module in tv_model.modules():  # non-trivial BN statistics
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        path = tmp_path / f"{name}-tv.pth"
        torch.save(tv_model.state_dict(), path)
        backbone = create_backbone(name, pretrained=path).eval()
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            trunk = tv_model.features if hasattr(tv_model, "features") else None
            if trunk is None:
                body = torch.nn.Sequential(*list(tv_model.children())[:-2])
                expected = body(x)
            else:
                expected = trunk(x)
            got = backbone.forward_features(x)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)

    def test_efficientnet_b4_ports_tensor_by_tensor(self):
        import timm
        import torchvision

        tv_state = torchvision.models.efficientnet_b4().state_dict()
        model = timm.create_model("efficientnet_b4", num_classes=0, global_pool="")
        ported = port_state_dict(tv_state, model)
        assert list(ported) == list(model.state_dict())
        assert ported["conv_stem.weight"] is tv_state["features.0.0.weight"]

    def test_port_names_the_tensor_that_differs(self):
        import timm

        model = timm.create_model("resnet10t", num_classes=0, global_pool="")
        state = dict(model.state_dict())
        first = next(iter(state))
        state[first] = torch.zeros(1)
        with pytest.raises(PretrainedWeightsError, match=first):
            port_state_dict(state, model)
        with pytest.raises(PretrainedWeightsError, match="tensors"):
            port_state_dict({"a": torch.zeros(1)}, model)

    def test_offline_says_how_to_pass_a_file(self, monkeypatch):
        import torchvision

        def offline(*args, **kwargs):
            raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

        monkeypatch.setattr(torchvision.models, "get_model", offline)
        with pytest.raises(PretrainedWeightsError, match=r"efficientnet_b4.*\.pth"):
            create_backbone("efficientnet_b4", pretrained="torchvision")

    def test_timm_tv_tag_is_used_where_it_exists(self, monkeypatch):
        calls = []

        def record(name, pretrained=False, **kwargs):
            calls.append((name, pretrained))
            raise OSError("offline")

        monkeypatch.setattr(pretrained_module.timm, "create_model", record)
        with pytest.raises(PretrainedWeightsError):
            create_backbone("resnet50", pretrained="torchvision")
        assert calls == [("resnet50.tv_in1k", True)]


class TestHeadDropoutAndNormalization:
    def test_dropout_only_on_the_training_logits(self):
        torch.manual_seed(0)
        model = create_model("resnet10t", head_dropout=0.5)
        plain = create_model("resnet10t")
        plain.load_state_dict(model.state_dict())  # no extra parameters
        x = torch.randn(2, 3, 64, 64)
        model.train()
        plain.train()
        a, b = model(x), plain(x)
        assert not torch.allclose(a.logits, b.logits)
        torch.testing.assert_close(a.cams, b.cams)
        model.eval()
        plain.eval()
        torch.testing.assert_close(model(x).logits, plain(x).logits)
        with pytest.raises(ValueError, match="head_dropout"):
            create_model("resnet10t", head_dropout=1.0)

    def test_normalization_follows_the_weights(self):
        model = create_model("resnet10t")
        assert model.normalization == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        model.backbone.pretrained_cfg = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
        assert model.normalization == ((0.5,) * 3, (0.5,) * 3)
