import pytest
import timm
import torch
import torch.nn.functional as F

from multires_backbone import (
    CAMClassifier,
    CAMOutput,
    apply_finetune_policy,
    create_model,
    lse_pool2d,
)

TINY = "resnet10t"


@pytest.fixture(scope="module")
def multires_model():
    torch.manual_seed(0)
    return create_model(f"multires_{TINY}", num_classes=5).eval()


class TestCAMClassifier:
    def test_smoke(self, multires_model):
        out = multires_model(torch.randn(2, 3, 64, 64))
        assert isinstance(out, CAMOutput)
        logits, cams, features = out
        assert logits.shape == (2, 5) and cams.shape == (2, 5, 8, 8)
        assert features.shape == (2, multires_model.num_features, 8, 8)

    @pytest.mark.parametrize(("name", "stride"), [(TINY, 32), (f"multires_{TINY}", 8)])
    @pytest.mark.parametrize("size", [32, 33, 64, 75, 96])
    def test_cam_stride_for_any_size(self, name, stride, size):
        model = create_model(name, num_classes=2).eval()
        cams = model(torch.randn(1, 3, size, size)).cams
        assert model.cam_stride == stride
        # timm's stride-2 convs round up: the map is ceil(size / stride) for these backbones
        assert cams.shape[-2:] == (-(-size // stride),) * 2

    def test_non_square_input(self, multires_model):
        out = multires_model(torch.randn(1, 3, 40, 72))
        assert out.cams.shape == (1, 5, 5, 9)

    def test_logits_are_classifier_of_lse(self, multires_model):
        out = multires_model(torch.randn(3, 3, 64, 64))
        weight = multires_model.classifier.weight[:, :, 0, 0]
        bias = multires_model.classifier.bias
        pooled = lse_pool2d(out.features, 10.0).flatten(1)
        torch.testing.assert_close(out.logits, pooled @ weight.T + bias)

    def test_cams_are_classifier_per_pixel(self, multires_model):
        out = multires_model(torch.randn(2, 3, 64, 64))
        weight = multires_model.classifier.weight[:, :, 0, 0]
        bias = multires_model.classifier.bias
        expected = torch.empty_like(out.cams)
        for i in range(out.features.shape[-2]):
            for j in range(out.features.shape[-1]):
                expected[:, :, i, j] = out.features[:, :, i, j] @ weight.T + bias
        torch.testing.assert_close(out.cams, expected)

    def test_extra_outputs_are_hidden(self):
        model = create_model(TINY, num_classes=14, extra_outputs=1).eval()
        out = model(torch.randn(1, 3, 64, 64))
        assert model.classifier.out_channels == 15
        assert out.logits.shape == (1, 14) and out.cams.shape[1] == 14

    def test_in_chans_one(self):
        model = create_model(f"multires_{TINY}", num_classes=3, in_chans=1).eval()
        assert model(torch.randn(2, 1, 64, 64)).cams.shape == (2, 3, 8, 8)

    @pytest.mark.parametrize(
        ("name", "features"),
        [
            ("multires_efficientnet_b0", 40 + (1280 // 4 + 112) // 4),
            ("multires_convnext_atto", 80),
            ("multires_densenet121", 512),
            ("densenet121", 1024),
        ],
    )
    def test_other_timm_backbones(self, name, features):
        kwargs = {"merge_style": "concat"} if "efficientnet" in name else {}
        model = create_model(name, num_classes=2, **kwargs).eval()
        out = model(torch.randn(1, 3, 64, 64))
        assert out.features.shape[1] == model.num_features == features
        assert out.cams.shape[-1] == 64 // model.cam_stride

    def test_backbone_without_stride_8_is_rejected(self):
        with pytest.raises(ValueError, match="no feature map at stride 8"):
            create_model("multires_vit_tiny_patch16_224", num_classes=2)

    @pytest.mark.parametrize(
        ("x", "match"),
        [
            pytest.param(torch.zeros(3, 64, 64), r"\(B, C, H, W\)", id="ndim"),
            pytest.param(torch.zeros(1, 3, 31, 64), r"at least 32x32", id="too-small"),
        ],
    )
    def test_exception(self, multires_model, x, match):
        with pytest.raises(ValueError, match=match):
            multires_model(x)

    def test_bad_arguments(self):
        backbone = timm.create_model(TINY, num_classes=0, global_pool="")
        with pytest.raises(ValueError, match="num_classes"):
            CAMClassifier(backbone, num_classes=0)
        with pytest.raises(ValueError, match="extra_outputs"):
            CAMClassifier(backbone, extra_outputs=-1)
        with pytest.raises(ValueError, match="merge_style.*'dense'"):
            CAMClassifier(backbone, multires=True, merge_style="dense")

    def test_gradients_reach_new_layers(self, multires_model):
        model = create_model(f"multires_{TINY}", num_classes=2)
        loss = model(torch.randn(2, 3, 64, 64)).logits.sum()
        loss.backward()
        for module in model.new_modules():
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


class TestFinetunePolicy:
    def test_resnet_trains_layer3_layer4_and_new_layers(self):
        model = create_model("multires_resnet18", num_classes=3)
        frozen = apply_finetune_policy(model)
        prefixes = {name.split(".")[1] for name in frozen}
        assert prefixes == {"conv1", "bn1", "layer1", "layer2"}
        trainable = {
            n.split(".")[0] if not n.startswith("backbone") else n.split(".")[1]
            for n, p in model.named_parameters()
            if p.requires_grad
        }
        assert trainable == {"layer3", "layer4", "merges", "classifier"}

    def test_efficientnet_trains_stride_16_and_32_stages(self):
        model = create_model("multires_efficientnet_b0", num_classes=3, merge_style="concat")
        apply_finetune_policy(model)
        trainable = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
        stages = {
            ".".join(n.split(".")[:2]) if n.startswith("blocks") else n.split(".")[0]
            for n in trainable
        }
        assert stages == {"blocks.3", "blocks.4", "blocks.5", "blocks.6", "conv_head", "bn2"}

    def test_frozen_batchnorm_stays_in_eval_and_keeps_statistics(self):
        model = create_model(f"multires_{TINY}", num_classes=2)
        apply_finetune_policy(model)
        model.train()
        frozen_bn = model.backbone.layer1[0].bn1
        trainable_bn = model.backbone.layer3[0].bn1
        before = frozen_bn.running_mean.clone()
        model(torch.randn(2, 3, 64, 64))
        assert not frozen_bn.training and trainable_bn.training
        torch.testing.assert_close(frozen_bn.running_mean, before, rtol=0, atol=0)

    def test_frozen_parameters_get_no_gradient(self):
        model = create_model(f"multires_{TINY}", num_classes=2)
        apply_finetune_policy(model)
        model(torch.randn(2, 3, 64, 64)).logits.sum().backward()
        assert model.backbone.conv1[0].weight.grad is None
        assert model.backbone.layer3[0].conv1.weight.grad is not None


class TestRuntimeFeatures:
    def test_channels_last(self, multires_model):
        x = torch.randn(2, 3, 64, 64)
        expected = multires_model(x)
        model = create_model(f"multires_{TINY}", num_classes=5).eval()
        model.load_state_dict(multires_model.state_dict())
        model = model.to(memory_format=torch.channels_last)
        out = model(x.to(memory_format=torch.channels_last))
        torch.testing.assert_close(out.logits, expected.logits, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(out.cams, expected.cams, atol=1e-4, rtol=1e-4)

    def test_bf16_autocast(self, multires_model):
        x = torch.randn(2, 3, 64, 64)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = multires_model(x)
        assert torch.isfinite(out.logits.float()).all()
        reference = multires_model(x).logits
        assert F.cosine_similarity(out.logits.float().flatten(), reference.flatten(), dim=0) > 0.98

    def test_torch_compile_full_graph(self, multires_model):
        compiled = torch.compile(multires_model, backend="aot_eager", fullgraph=True)
        x = torch.randn(1, 3, 64, 64)
        torch.testing.assert_close(compiled(x).cams, multires_model(x).cams, atol=1e-5, rtol=1e-5)

    def test_torch_export(self, multires_model):
        x = torch.randn(1, 3, 64, 64)
        exported = torch.export.export(multires_model, (x,))
        out = exported.module()(x)
        torch.testing.assert_close(out[1], multires_model(x).cams, atol=1e-5, rtol=1e-5)
