import pytest
import torch
from torch import nn

from pcm_seam import PCM, BranchOutputs, SEAMLoss, freeze_model, prepare_cams, rotate, seam_step


class TinyCAMModel(nn.Module):
    """Stand-in for any CAM model: returns (logits, cams, features); has batch norm."""

    def __init__(self, classes=3, channels=8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.classifier = nn.Conv2d(channels, classes, 1)

    def forward(self, x):
        features = self.body(x)
        cams = self.classifier(features)
        return cams.mean(dim=(2, 3)), cams, features


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model, pcm = TinyCAMModel(), PCM(8)
    model.train()
    images = torch.rand(4, 3, 32, 32)
    labels = torch.tensor([[1.0, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    return model, pcm, images, labels


class TestSEAMStep:
    def test_only_pcm_changes(self, setup):
        model, pcm, images, labels = setup
        before = {k: v.clone() for k, v in model.state_dict().items()}
        pcm_before = pcm.embedding.weight.clone()
        optimizer = torch.optim.Adam(pcm.parameters(), lr=1e-2)
        for _ in range(2):
            optimizer.zero_grad()
            out = seam_step(model, pcm, images, labels, SEAMLoss())
            out.loss.backward()
            optimizer.step()
        after = model.state_dict()
        for key, value in before.items():  # weights and BN statistics bit-identical
            assert torch.equal(after[key], value), key
        assert all(p.grad is None for p in model.parameters())
        assert not torch.equal(pcm.embedding.weight, pcm_before)
        assert not model.training

    def test_parts_and_weights(self, setup):
        model, pcm, images, labels = setup
        g = torch.Generator().manual_seed(3)
        out = seam_step(
            model, pcm, images, labels, SEAMLoss(lambda_msml=1.5, lambda_ecr=1.0), generator=g
        )
        torch.testing.assert_close(out.loss, 1.5 * out.msml + 1.0 * out.ecr)
        assert out.angles.shape == (4,) and out.angles.abs().max() <= 30

    def test_reproducible_with_generator(self, setup):
        model, pcm, images, labels = setup
        first = seam_step(model, pcm, images, labels, SEAMLoss(), torch.Generator().manual_seed(1))
        second = seam_step(model, pcm, images, labels, SEAMLoss(), torch.Generator().manual_seed(1))
        torch.testing.assert_close(first.loss, second.loss)

    def test_zero_angle_gives_zero_ecr_for_a_perfect_pcm(self, setup):
        model, _, images, labels = setup

        class Identity(nn.Module):
            def forward(self, features, cams):
                return cams

        loss_fn = SEAMLoss(max_angle=0.0)
        out = seam_step(model, Identity(), images, labels, loss_fn)
        assert out.ecr.item() == pytest.approx(0.0, abs=1e-6)

    def test_loss_is_explicit_about_branches(self, setup):
        model, pcm, images, labels = setup
        freeze_model(model)
        angles = torch.tensor([10.0, -20.0, 5.0, 0.0])
        _, cams_o, feats_o = model(images)
        _, cams_t, feats_t = model(rotate(images, angles)[0])
        prep_o, prep_t = prepare_cams(cams_o, labels), prepare_cams(cams_t, labels)
        out = SEAMLoss()(
            BranchOutputs(prep_o, pcm(feats_o, prep_o)),
            BranchOutputs(prep_t, pcm(feats_t, prep_t)),
            labels,
            angles,
        )
        assert torch.isfinite(out.loss)

    def test_bad_input(self, setup):
        model, pcm, images, labels = setup
        with pytest.raises(ValueError, match=r"same B.*\(4, 3, 32, 32\).*\(3, 3\)"):
            seam_step(model, pcm, images, labels[:3], SEAMLoss())
        with pytest.raises(ValueError, match="max_angle"):
            SEAMLoss(max_angle=-1)
        with pytest.raises(ValueError, match=r"`angles_deg`.*\(4,\)"):
            SEAMLoss()(
                BranchOutputs(torch.rand(4, 4, 8, 8), torch.rand(4, 4, 8, 8)),
                BranchOutputs(torch.rand(4, 4, 8, 8), torch.rand(4, 4, 8, 8)),
                labels,
                torch.zeros(3),
            )

    def test_bf16_autocast(self, setup):
        model, pcm, images, labels = setup
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = seam_step(model, pcm, images, labels, SEAMLoss())
        assert torch.isfinite(out.loss)
        out.loss.backward()
        assert pcm.embedding.weight.grad is not None
