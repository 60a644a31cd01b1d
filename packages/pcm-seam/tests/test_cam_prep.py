import pytest
import torch

from pcm_seam import prepare_cams


def _reference(cams, labels=None, eps=1e-5):
    """Per pixel, per class, with loops."""
    batch, classes, height, width = cams.shape
    out = torch.zeros(batch, classes + 1, height, width, dtype=torch.float64)
    for b in range(batch):
        normed = []
        for c in range(classes):
            m = cams[b, c].double().clamp(min=0)
            m = m / (m.max() + eps)
            if labels is not None:
                m = m * float(labels[b, c])
            normed.append(m)
        for i in range(height):
            for j in range(width):
                values = [normed[c][i, j].item() for c in range(classes)]
                peak = max(values)
                out[b, 0, i, j] = 1 - peak
                for c in range(classes):
                    out[b, c + 1, i, j] = values[c] if values[c] >= peak else 0.0
    return out


class TestPrepareCams:
    @pytest.mark.parametrize("seed", range(4))
    @pytest.mark.parametrize("with_labels", [False, True])
    def test_against_reference(self, seed, with_labels):
        g = torch.Generator().manual_seed(seed)
        cams = torch.randn(2, 4, 5, 6, generator=g)
        labels = (torch.rand(2, 4, generator=g) < 0.5).float() if with_labels else None
        torch.testing.assert_close(prepare_cams(cams, labels).double(), _reference(cams, labels))

    def test_cardinality_and_range(self):
        out = prepare_cams(torch.randn(3, 14, 8, 8))
        assert out.shape == (3, 15, 8, 8)
        assert out.min() >= 0 and out.max() <= 1

    def test_one_class_per_pixel_after_nms(self):
        out = prepare_cams(torch.randn(2, 5, 6, 6))
        assert ((out[:, 1:] > 0).sum(dim=1) <= 1).all()

    def test_all_negative_cams_are_background(self):
        out = prepare_cams(-torch.rand(1, 3, 4, 4))
        assert torch.equal(out[:, 0], torch.ones(1, 4, 4))
        assert not out[:, 1:].any()

    def test_half_precision_input(self):
        cams = torch.randn(1, 3, 4, 4)
        out = prepare_cams(cams.bfloat16())
        assert out.dtype == torch.float32

    @pytest.mark.parametrize(
        ("cams", "labels", "match"),
        [
            pytest.param(
                torch.zeros(3, 4, 4), None, r"`cams`.*\(B, K, h, w\).*\(3, 4, 4\)", id="ndim"
            ),
            pytest.param(
                torch.zeros(2, 3, 4, 4),
                torch.zeros(2, 4),
                r"`labels`.*\(2, 3\).*\(2, 4\)",
                id="labels",
            ),
        ],
    )
    def test_exception(self, cams, labels, match):
        with pytest.raises(ValueError, match=match):
            prepare_cams(cams, labels)
