import pytest
import torch
import torch.nn.functional as F

from pcm_seam import ecr_loss, msml_loss, ohem


def _reference_ohem(loss_map, keep, mask=None):
    values = []
    for b in range(loss_map.shape[0]):
        entries = loss_map[b].flatten().tolist()
        if mask is not None:
            m = mask[b].expand_as(loss_map[b]).flatten().tolist()
            entries = [e for e, ok in zip(entries, m, strict=True) if ok]
        if not entries:
            values.append(0.0)
            continue
        k = max(1, int(len(entries) * keep))
        values.append(sum(sorted(entries, reverse=True)[:k]) / k)
    return sum(values) / len(values)


class TestOHEM:
    @pytest.mark.parametrize("seed", range(5))
    @pytest.mark.parametrize("keep", [0.2, 0.05, 0.5, 1.0])
    def test_against_reference(self, seed, keep):
        g = torch.Generator().manual_seed(seed)
        loss = torch.rand(3, 4, 5, 7, generator=g, dtype=torch.float64)
        assert ohem(loss, keep).item() == pytest.approx(_reference_ohem(loss, keep))

    @pytest.mark.parametrize("seed", range(3))
    def test_masked_against_reference(self, seed):
        g = torch.Generator().manual_seed(seed)
        loss = torch.rand(3, 2, 6, 6, generator=g, dtype=torch.float64)
        mask = torch.rand(3, 1, 6, 6, generator=g) < 0.6
        mask[2] = False  # an image with nothing valid contributes 0
        assert ohem(loss, 0.2, mask).item() == pytest.approx(_reference_ohem(loss, 0.2, mask))

    def test_keeps_exactly_the_top_20_percent(self):
        loss = torch.zeros(2, 1, 10, 10)
        loss[0].view(-1)[:20] = 1.0  # exactly 20 % ones: OHEM mean is 1
        loss[1].view(-1)[:21] = 1.0
        loss[1].view(-1)[0] = 100.0
        expected = (1.0 + (100 + 19) / 20) / 2
        assert ohem(loss, 0.2).item() == pytest.approx(expected)

    def test_gradient_only_through_kept_entries(self):
        loss = torch.arange(10.0).view(1, 1, 2, 5).requires_grad_()
        ohem(loss, 0.2).backward()
        assert loss.grad.flatten().tolist() == [0] * 8 + [0.5, 0.5]

    @pytest.mark.parametrize("keep", [0.0, 1.5, -0.2])
    def test_bad_keep(self, keep):
        with pytest.raises(ValueError, match="keep"):
            ohem(torch.rand(1, 1, 2, 2), keep)


class TestECR:
    def test_zero_for_equivariant_pair(self):
        refined, cams = torch.rand(2, 5, 6, 6), torch.rand(2, 5, 6, 6)
        assert ecr_loss(refined, cams, cams, refined).item() == 0.0

    def test_terms_are_added(self):
        refined_a, cams_a = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
        refined_b, cams_b = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
        expected = _reference_ohem((refined_a - cams_b).abs(), 0.2) + _reference_ohem(
            (cams_a - refined_b).abs(), 0.2
        )
        assert ecr_loss(refined_a, cams_a, refined_b, cams_b).item() == pytest.approx(expected)

    def test_mask_excludes_padding(self):
        a, b = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
        b[..., 0, 0] = 100.0  # a huge error only in a masked corner
        mask = torch.ones(1, 1, 4, 4, dtype=torch.bool)
        mask[..., 0, 0] = False
        assert ecr_loss(a, a, b, b, mask=mask).item() == 0.0
        assert ecr_loss(a, a, b, b).item() > 0

    def test_shape_mismatch(self):
        with pytest.raises(
            ValueError, match=r"`refined_a` and `cams_b`.*\(1, 2, 4, 4\).*\(1, 3, 4, 4\)"
        ):
            ecr_loss(
                torch.zeros(1, 2, 4, 4),
                torch.zeros(1, 3, 4, 4),
                torch.zeros(1, 3, 4, 4),
                torch.zeros(1, 3, 4, 4),
            )


class TestMSML:
    def test_equals_torch_on_gap(self):
        refined = torch.rand(4, 6, 5, 5)
        labels = (torch.rand(4, 6) < 0.4).float()
        expected = F.multilabel_soft_margin_loss(refined.mean(dim=(2, 3)), labels)
        torch.testing.assert_close(msml_loss(refined, labels), expected)

    def test_bad_labels(self):
        with pytest.raises(ValueError, match=r"`labels`.*\(2, 3\)"):
            msml_loss(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4))
