import pytest
import torch

from multires_backbone import MergeBlock


class TestMergeBlock:
    @pytest.mark.parametrize(
        ("coarse_hw", "fine_hw"),
        [((4, 4), (8, 8)), ((3, 5), (5, 9)), ((1, 1), (7, 6)), ((9, 9), (17, 17))],
    )
    def test_cardinality_odd_sizes(self, coarse_hw, fine_hw):
        block = MergeBlock(16, 8)
        out = block(torch.randn(2, 16, *coarse_hw), torch.randn(2, 8, *fine_hw))
        assert out.shape == (2, 8, *fine_hw)

    def test_published_resnet_widths(self):
        block = MergeBlock(2048, 1024)
        assert block.coarse[0].out_channels == 512
        assert block.fine[0].out_channels == 256
        assert (block.fuse[0].in_channels, block.fuse[0].out_channels) == (768, 1024)
        assert all(m.bias is None for m in block.modules() if isinstance(m, torch.nn.Conv2d))

    def test_published_efficientnet_widths(self):
        block = MergeBlock(1792, 160, fine_out=160, out_channels=448 + 160)
        assert block.coarse[0].out_channels == 448
        assert block.fine[0].out_channels == 160
        assert block.out_channels == 608

    def test_feature_upsamples_coarse_bilinearly(self):
        block = MergeBlock(4, 4, coarse_out=4, fine_out=4, out_channels=8).eval()
        coarse, fine = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 6, 6)
        expected_up = torch.nn.functional.interpolate(
            block.coarse(coarse), size=(6, 6), mode="bilinear", align_corners=False
        )
        expected = block.fuse(torch.cat([expected_up, block.fine(fine)], dim=1))
        torch.testing.assert_close(block(coarse, fine), expected)

    def test_gradcheck(self):
        block = MergeBlock(4, 4).double().eval()
        coarse = torch.randn(1, 4, 2, 2, dtype=torch.float64, requires_grad=True)
        fine = torch.randn(1, 4, 3, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(block, (coarse, fine))

    @pytest.mark.parametrize(
        ("coarse", "fine", "match"),
        [
            pytest.param((1, 8, 2, 2), (1, 8, 4, 4), r"`coarse`.*\(B, 16, h, w\)", id="coarse-ch"),
            pytest.param((1, 16, 2, 2), (1, 4, 4, 4), r"`fine`.*\(1, 8, H, W\)", id="fine-ch"),
            pytest.param((2, 16, 2, 2), (1, 8, 4, 4), r"`fine`.*\(2, 8, H, W\)", id="batch"),
            pytest.param((16, 2, 2), (1, 8, 4, 4), r"`coarse`", id="ndim"),
        ],
    )
    def test_exception(self, coarse, fine, match):
        with pytest.raises(ValueError, match=match):
            MergeBlock(16, 8)(torch.randn(*coarse), torch.randn(*fine))

    def test_bad_width(self):
        with pytest.raises(ValueError, match="coarse_out"):
            MergeBlock(16, 8, coarse_out=0)


class TestFuseAtCoarse:
    """The fuse convolution's coarse part before the upsampling: the same block, fewer FLOPs."""

    @pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
    @pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
    @pytest.mark.parametrize(("coarse_hw", "fine_hw"), [((4, 4), (8, 8)), ((3, 5), (5, 9))])
    def test_equals_the_published_order(self, train, channels_last, coarse_hw, fine_hw):
        torch.manual_seed(0)
        plain = MergeBlock(32, 16, fuse_at_coarse=False)
        for module in plain.modules():  # non-trivial BN statistics and affine parameters
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.uniform_(-0.2, 0.2)
        fast = MergeBlock(32, 16)
        fast.load_state_dict(plain.state_dict())  # the same parameters load into either
        plain.train(train)
        fast.train(train)
        coarse, fine = torch.randn(3, 32, *coarse_hw), torch.randn(3, 16, *fine_hw)
        if channels_last:
            plain, fast = (m.to(memory_format=torch.channels_last) for m in (plain, fast))
            coarse = coarse.contiguous(memory_format=torch.channels_last)
            fine = fine.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(fast(coarse, fine), plain(coarse, fine), rtol=1e-5, atol=1e-5)
        if train:  # the batch statistics moved identically
            torch.testing.assert_close(fast.fuse[1].running_mean, plain.fuse[1].running_mean)

    def test_gradients_match(self):
        torch.manual_seed(1)
        plain = MergeBlock(8, 4, fuse_at_coarse=False).double()
        fast = MergeBlock(8, 4).double()
        fast.load_state_dict(plain.state_dict())
        coarse, fine = (
            torch.randn(2, 8, 3, 3, dtype=torch.float64),
            torch.randn(2, 4, 6, 6, dtype=torch.float64),
        )
        plain(coarse, fine).square().sum().backward()
        fast(coarse, fine).square().sum().backward()
        for (name, a), b in zip(plain.named_parameters(), fast.parameters(), strict=True):
            torch.testing.assert_close(b.grad, a.grad, msg=name)
