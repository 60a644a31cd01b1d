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
