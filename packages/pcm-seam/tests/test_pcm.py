import pytest
import torch

from pcm_seam import PCM, pixel_correlation


def _reference(embeddings, cams, eps):
    """Eq. 2 with explicit loops over pixel pairs, float64."""
    batch, _, height, width = cams.shape
    emb = embeddings.double().flatten(2)
    val = cams.double().flatten(2)
    out = torch.zeros_like(val)
    for b in range(batch):
        for i in range(height * width):
            weights = []
            for j in range(height * width):
                ei, ej = emb[b, :, i], emb[b, :, j]
                cosine = (ei @ ej) / (ei.norm() * ej.norm())
                weights.append(max(cosine.item(), 0.0))
            total = sum(weights)
            for j, w in enumerate(weights):
                out[b, :, i] += w * val[b, :, j]
            out[b, :, i] /= total + eps
    return out.view_as(cams.double())


class TestPixelCorrelation:
    @pytest.mark.parametrize("seed", range(3))
    def test_against_reference(self, seed):
        g = torch.Generator().manual_seed(seed)
        emb = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
        cams = torch.rand(2, 3, 3, 4, generator=g, dtype=torch.float64)
        torch.testing.assert_close(
            pixel_correlation(emb, cams, eps=1e-5).double(),
            _reference(emb, cams, 1e-5),
            rtol=1e-5,
            atol=1e-6,
        )

    def test_constant_cam_is_unchanged(self):
        emb = torch.randn(2, 8, 6, 6)
        cams = torch.full((2, 3, 6, 6), 0.7)
        torch.testing.assert_close(pixel_correlation(emb, cams, eps=0.0), cams)

    def test_identical_features_average_the_cam(self):
        emb = torch.randn(1, 4, 1, 1).expand(1, 4, 5, 5)
        cams = torch.rand(1, 2, 5, 5)
        expected = cams.mean(dim=(2, 3), keepdim=True).expand_as(cams)
        torch.testing.assert_close(pixel_correlation(emb, cams, eps=0.0), expected)

    def test_orthogonal_groups_do_not_mix(self):
        emb = torch.zeros(1, 2, 4, 4)
        emb[:, 0, :, :2] = 1.0  # left half embeds along e0
        emb[:, 1, :, 2:] = 1.0  # right half along e1 (cosine 0 with the left)
        cams = torch.rand(1, 1, 4, 4)
        out = pixel_correlation(emb, cams, eps=0.0)
        torch.testing.assert_close(out[..., :2], cams[..., :2].mean().expand(1, 1, 4, 2))
        torch.testing.assert_close(out[..., 2:], cams[..., 2:].mean().expand(1, 1, 4, 2))

    @pytest.mark.parametrize("chunk_size", [1, 7, 16, 64, 1000])
    def test_chunked_equals_dense(self, chunk_size):
        emb, cams = torch.randn(2, 6, 8, 8), torch.rand(2, 4, 8, 8)
        torch.testing.assert_close(
            pixel_correlation(emb, cams, chunk_size=chunk_size), pixel_correlation(emb, cams)
        )

    def test_gradcheck(self):
        emb = torch.randn(1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
        cams = torch.rand(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)

        # computed in float32 internally for AMP safety, so check the float64 maths by hand
        def eq2(e, c):
            keys = torch.nn.functional.normalize(e.flatten(2), dim=1)
            aff = torch.relu(keys.transpose(1, 2) @ keys)
            out = aff @ c.flatten(2).transpose(1, 2) / (aff.sum(-1, keepdim=True) + 1e-5)
            return out.transpose(1, 2).reshape_as(c)

        torch.testing.assert_close(
            pixel_correlation(emb, cams).double(), eq2(emb, cams), rtol=1e-5, atol=1e-6
        )
        assert torch.autograd.gradcheck(eq2, (emb, cams))
        pixel_correlation(emb, cams).sum().backward()
        assert emb.grad is not None and cams.grad is not None

    def test_autocast_computes_in_float32(self):
        emb, cams = torch.randn(1, 4, 4, 4), torch.rand(1, 2, 4, 4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = pixel_correlation(emb.bfloat16(), cams.bfloat16())
        assert out.dtype == torch.float32

    @pytest.mark.parametrize(
        ("emb", "cams", "match"),
        [
            pytest.param((1, 4, 4), (1, 2, 4, 4), r"`embeddings`.*\(B, E, h, w\)", id="ndim"),
            pytest.param(
                (1, 4, 4, 4), (1, 2, 4, 5), r"same batch and map size.*\(1, 2, 4, 5\)", id="size"
            ),
            pytest.param((2, 4, 4, 4), (1, 2, 4, 4), r"same batch", id="batch"),
        ],
    )
    def test_exception(self, emb, cams, match):
        with pytest.raises(ValueError, match=match):
            pixel_correlation(torch.zeros(emb), torch.zeros(cams))

    def test_bad_chunk_size(self):
        with pytest.raises(ValueError, match="chunk_size"):
            pixel_correlation(torch.ones(1, 2, 2, 2), torch.ones(1, 1, 2, 2), chunk_size=0)


class TestPCMModule:
    def test_module_equals_functional(self):
        pcm = PCM(16, chunk_size=5)
        features, cams = torch.randn(2, 16, 6, 6), torch.rand(2, 4, 6, 6)
        torch.testing.assert_close(
            pcm(features, cams), pixel_correlation(pcm.embedding(features), cams)
        )

    def test_published_embedding(self):
        pcm = PCM(512)
        assert pcm.embedding.bias is None and pcm.embedding.out_channels == 256
        assert sum(p.numel() for p in pcm.parameters()) == 512 * 256

    def test_features_are_detached(self):
        features = torch.randn(1, 8, 4, 4, requires_grad=True)
        PCM(8)(features, torch.rand(1, 2, 4, 4)).sum().backward()
        assert features.grad is None
        PCM(8, detach_features=False)(features, torch.rand(1, 2, 4, 4)).sum().backward()
        assert features.grad is not None

    def test_wrong_channels(self):
        with pytest.raises(ValueError, match=r"8 channels.*\(1, 4, 4, 4\)"):
            PCM(8)(torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 4, 4))
        with pytest.raises(ValueError, match="embed_channels"):
            PCM(8, embed_channels=0)
