import math

import pytest
import torch

from multires_backbone import LSEPool2d, lse_pool2d


def _reference(x: torch.Tensor, gamma: float) -> torch.Tensor:
    """Eq. 2 literally, in float64 with Python loops (fine for small, moderate inputs)."""
    batch, channels, height, width = x.shape
    out = torch.empty(batch, channels, 1, 1, dtype=torch.float64)
    for b in range(batch):
        for c in range(channels):
            values = x[b, c].double().flatten().tolist()
            mean_exp = sum(math.exp(gamma * v) for v in values) / (height * width)
            out[b, c, 0, 0] = math.log(mean_exp) / gamma
    return out


class TestLSEPool:
    @pytest.mark.parametrize("seed", range(8))
    def test_against_reference(self, seed):
        g = torch.Generator().manual_seed(seed)
        shape = [int(v) for v in torch.randint(1, 7, (4,), generator=g)]
        x = torch.randn(*shape, generator=g, dtype=torch.float64)
        gamma = [0.5, 1.0, 10.0, 25.0][seed % 4]
        torch.testing.assert_close(lse_pool2d(x, gamma), _reference(x, gamma))

    def test_tends_to_max_and_mean(self):
        x = torch.randn(3, 4, 5, 6, dtype=torch.float64)
        torch.testing.assert_close(
            lse_pool2d(x, 1e6), x.amax(dim=(2, 3), keepdim=True), atol=1e-4, rtol=0
        )
        torch.testing.assert_close(
            lse_pool2d(x, 1e-7), x.mean(dim=(2, 3), keepdim=True), atol=1e-6, rtol=0
        )

    def test_between_mean_and_max(self):
        x = torch.randn(2, 3, 8, 8)
        pooled = lse_pool2d(x, 10.0)
        assert (pooled <= x.amax(dim=(2, 3), keepdim=True) + 1e-6).all()
        assert (pooled >= x.mean(dim=(2, 3), keepdim=True) - 1e-6).all()

    def test_huge_inputs_stay_finite(self):
        x = torch.tensor([[[[1e30, -1e30], [3e3, 0.0]]]])
        pooled = lse_pool2d(x, 10.0)
        assert torch.isfinite(pooled).all()
        assert pooled.item() == pytest.approx(1e30 - math.log(4) / 10, rel=1e-6)

    def test_gradcheck(self):
        x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: lse_pool2d(t, 3.0), (x,))

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_precision(self, dtype):
        """Against Eq. 2 in float64 loops on the same (rounded) inputs, to the output dtype's
        resolution (fp16: 2^-10, bf16: 2^-7 relative)."""
        x = (torch.randn(2, 3, 8, 8) * 5).to(dtype)
        pooled = lse_pool2d(x, 10.0)
        assert pooled.dtype == dtype
        resolution = torch.finfo(dtype).eps
        torch.testing.assert_close(
            pooled.double(), _reference(x, 10.0), atol=2 * resolution, rtol=2 * resolution
        )

    def test_module_equals_functional(self):
        x = torch.randn(2, 3, 5, 5)
        torch.testing.assert_close(LSEPool2d(4.0)(x), lse_pool2d(x, 4.0))
        assert "gamma=4.0" in repr(LSEPool2d(4.0))

    @pytest.mark.parametrize(
        ("x", "gamma", "match"),
        [
            pytest.param(torch.zeros(2, 3, 4), 10.0, r"\(B, C, H, W\).*\(2, 3, 4\)", id="ndim"),
            pytest.param(torch.zeros(1, 1, 0, 3), 10.0, r"non-empty", id="empty"),
            pytest.param(torch.zeros(1, 1, 2, 2), 0.0, r"gamma.*0\.0", id="zero-gamma"),
            pytest.param(torch.zeros(1, 1, 2, 2), float("inf"), r"gamma.*inf", id="inf-gamma"),
        ],
    )
    def test_exception(self, x, gamma, match):
        with pytest.raises(ValueError, match=match):
            lse_pool2d(x, gamma)
