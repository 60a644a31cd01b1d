import pytest
import torch

from pcm_seam import rotate_with_mask


def _smooth(batch, channels, size):
    """A low-frequency image: bilinear round trips barely blur it."""
    coords = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    base = torch.stack([torch.sin(1.5 * xx + c) * torch.cos(1.2 * yy - c) for c in range(channels)])
    return base.expand(batch, channels, size, size).clone()


class TestRotate:
    def test_round_trip_inside_mask(self):
        x = _smooth(3, 2, 48)
        angles = torch.tensor([25.0, -17.0, 30.0])
        there, valid = rotate_with_mask(x, angles)
        back, valid_back = rotate_with_mask(there, -angles)
        region = valid_back & rotate_with_mask(valid.float(), -angles)[0].ge(0.999)
        assert region.float().mean() > 0.4
        torch.testing.assert_close(back * region, x * region, atol=0.03, rtol=0)

    @pytest.mark.parametrize("k", [1, 2, 3])
    def test_multiples_of_90_equal_rot90(self, k):
        x = torch.randn(2, 3, 9, 9)
        rotated, valid = rotate_with_mask(x, torch.full((2,), 90.0 * k))
        torch.testing.assert_close(rotated, torch.rot90(x, k, dims=(-2, -1)), atol=1e-4, rtol=0)
        assert valid.all()

    def test_per_sample_angles(self):
        x = torch.randn(2, 1, 8, 8)
        rotated, _ = rotate_with_mask(x, torch.tensor([0.0, 90.0]))
        torch.testing.assert_close(rotated[0], x[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(
            rotated[1], torch.rot90(x[1], 1, dims=(-2, -1)), atol=1e-4, rtol=0
        )

    def test_mask_at_the_corners(self):
        _, valid = rotate_with_mask(torch.ones(1, 1, 33, 33), torch.tensor([45.0]))
        assert not valid[0, 0, 0, 0] and not valid[0, 0, -1, -1]
        assert not valid[0, 0, 0, -1] and not valid[0, 0, -1, 0]
        assert valid[0, 0, 16, 16] and valid[0, 0, 16, 1]  # centre and edge midpoints stay inside
        # the valid region is the rotated square: its area is the whole image's, minus cut corners
        assert 0.6 < valid.float().mean() < 0.9

    def test_zero_fill(self):
        rotated, valid = rotate_with_mask(torch.ones(1, 1, 16, 16), torch.tensor([45.0]))
        assert rotated[0, 0, 0, 0] == 0
        assert torch.all(rotated[valid] > 0.999)

    def test_half_precision_and_autocast(self):
        x = torch.randn(1, 2, 8, 8)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rotated, _ = rotate_with_mask(x.bfloat16(), torch.tensor([10.0]))
        assert rotated.dtype == torch.float32

    @pytest.mark.parametrize(
        ("shape", "angles", "match"),
        [
            pytest.param((1, 8, 8), [0.0], r"`x`.*\(B, C, H, W\)", id="ndim"),
            pytest.param((2, 1, 8, 8), [0.0], r"`angles_deg`.*\(2,\).*\(1,\)", id="length"),
            pytest.param((2, 1, 8, 8), [[0.0, 1.0]], r"`angles_deg`", id="2d-angles"),
        ],
    )
    def test_exception(self, shape, angles, match):
        with pytest.raises(ValueError, match=match):
            rotate_with_mask(torch.zeros(shape), torch.tensor(angles))
