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

    def test_auto_chunk_size_fits_the_budget(self):
        from pcm_seam import auto_chunk_size

        # hand-worked: a query pixel of a 64 x 64 map costs 2 (affinities and their saved
        # ReLU) x 2 (images) x 4096 (key pixels) x 4 bytes = 64 KiB, so 1 MiB holds 16 of them
        assert auto_chunk_size(2, 4096, memory_budget=2**20) == 16
        assert auto_chunk_size(2, 4096, memory_budget=2**20 - 1) == 15
        # an 8 x 8 map: 2 x 2 x 64 x 4 bytes = 1 KiB per query, 64 KiB for all 64: dense
        assert auto_chunk_size(2, 64, memory_budget=64 * 1024) is None
        assert auto_chunk_size(2, 64, memory_budget=63 * 1024) == 63
        assert auto_chunk_size(1, 10**6, memory_budget=1) == 1  # never below one query
        emb, cams = torch.randn(2, 6, 8, 8), torch.rand(2, 4, 8, 8)
        small = pixel_correlation(emb, cams, chunk_size="auto", memory_budget=2 * 2 * 64 * 4 * 5)
        torch.testing.assert_close(small, pixel_correlation(emb, cams))

    @pytest.mark.parametrize("chunk_size", [1, 7, 16, 64, 1000])
    def test_chunked_equals_dense(self, chunk_size):
        emb, cams = torch.randn(2, 6, 8, 8), torch.rand(2, 4, 8, 8)
        torch.testing.assert_close(
            pixel_correlation(emb, cams, chunk_size=chunk_size), pixel_correlation(emb, cams)
        )

    @pytest.mark.parametrize("chunk_size", [None, 4])
    def test_gradcheck(self, chunk_size):
        emb = torch.randn(1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
        cams = torch.rand(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
        assert pixel_correlation(emb, cams).dtype == torch.float64  # float64 stays float64
        assert torch.autograd.gradcheck(
            lambda e, c: pixel_correlation(e, c, chunk_size=chunk_size), (emb, cams)
        )

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


def _planted_features(embedding: torch.Tensor, side: int, region: list[int]) -> torch.Tensor:
    """Features whose embeddings are one vector inside ``region`` and mutually orthogonal
    (and orthogonal to it) elsewhere: solved through the embedding's pseudo-inverse."""
    pixels = side * side
    targets = torch.zeros(pixels, embedding.shape[0], dtype=torch.float64)
    outside = [p for p in range(pixels) if p not in region]
    targets[region, 0] = 1.0
    for axis, p in enumerate(outside, start=1):
        targets[p, axis] = 1.0
    features = torch.linalg.pinv(embedding.double()) @ targets.T  # (C, N)
    return features.reshape(1, -1, side, side)


class TestEquation2Analytically:
    """Eq. 2 as the paper uses it: a CAM firing on one pixel of a region whose features agree
    spreads to the region's mean inside and stays 0 outside."""

    @pytest.mark.parametrize("trained", [False, True], ids=["identity", "trained-embedding"])
    def test_region_mean_inside_zero_outside(self, trained):
        side, region = 4, [5, 6, 9, 10]
        pcm = PCM(32, embed_channels=16).double()
        if trained:  # an embedding moved by a few SEAM steps, not a hand-made one
            pcm = _trained_pcm().double()
        embedding = pcm.embedding.weight[:, :, 0, 0].detach()
        features = _planted_features(embedding, side, region)
        cam = torch.zeros(1, 1, side, side, dtype=torch.float64)
        cam.view(-1)[region[2]] = 0.8
        refined = pcm(features, cam).view(-1)
        expected = torch.zeros(side * side, dtype=torch.float64)
        expected[region] = 0.8 / len(region)
        torch.testing.assert_close(refined, expected, rtol=1e-4, atol=1e-6)


def _trained_pcm() -> PCM:
    from pcm_seam import SEAMLoss, freeze_model, seam_step

    torch.manual_seed(0)
    body = torch.nn.Conv2d(3, 32, 3, stride=4, padding=1)
    head = torch.nn.Conv2d(32, 3, 1)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = body, head

        def forward(self, x):
            f = self.body(x)
            return self.head(f).mean((2, 3)), self.head(f), f

    model, pcm = freeze_model(Model()), PCM(32, embed_channels=16)
    before = pcm.embedding.weight.clone()
    optimizer = torch.optim.Adam(pcm.parameters(), lr=1e-2)
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    for _ in range(3):
        optimizer.zero_grad()
        seam_step(model, pcm, torch.rand(2, 3, 32, 32), labels, SEAMLoss()).loss.backward()
        optimizer.step()
    assert not torch.equal(before, pcm.embedding.weight)
    return pcm
