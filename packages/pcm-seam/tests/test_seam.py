import math
from typing import ClassVar

import pytest
import torch
from torch import nn

from pcm_seam import (
    PCM,
    SEAM_VARIANTS,
    BranchOutputs,
    SEAMLoss,
    freeze_model,
    pcm_input,
    refine,
    run_branch,
    seam_step,
)


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


class TestSEAMLossParts:
    def test_sum_is_twice_the_mean(self):
        g = torch.Generator().manual_seed(0)
        branch = BranchOutputs(
            torch.randn(2, 3, 4, 4, generator=g), torch.rand(2, 4, 4, 4, generator=g)
        )
        labels = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
        args = (branch, branch, labels, torch.zeros(2), (8, 8))
        mean = SEAMLoss(msml_reduction="mean")(*args)
        summed = SEAMLoss(msml_reduction="sum")(*args)
        torch.testing.assert_close(summed.msml, 2 * mean.msml)
        torch.testing.assert_close(summed.ecr, mean.ecr)

    def test_onehot_all_keeps_the_background_where_it_wins(self):
        cams = torch.tensor([[[[0.2]], [[0.1]]]])  # two classes, one pixel
        loss = SEAMLoss(ecr_targets="after", onehot="all")
        targets = loss._targets_after(cams)  # background 1 - 0.2 = 0.8 is the largest
        assert targets[0, :, 0, 0].tolist() == pytest.approx([0.8, 0.0, 0.0])
        foreground = SEAMLoss(ecr_targets="after")._targets_after(cams)
        assert foreground[0, :, 0, 0].tolist() == pytest.approx([0.8, 0.2, 0.0])


class TestVariants:
    def test_table(self):
        assert set(SEAM_VARIANTS) == {"paper", "seam", "authors", "masked-cam-scale"}
        paper, authors, masked = (
            SEAMLoss.variant(n) for n in ("paper", "authors", "masked-cam-scale")
        )
        assert (paper.mask_input, paper.ecr_normalize, paper.ecr_resolution) == (
            False,
            "max",
            "image",
        )
        assert (paper.msml_reduction, paper.angle_per, paper.mask_padding) == (
            "mean",
            "batch",
            True,
        )
        assert (authors.msml_reduction, authors.mask_padding) == ("sum", False)
        assert (masked.mask_input, masked.label_loss_maps, masked.ecr_resolution) == (
            True,
            False,
            "cam",
        )
        assert SEAMLoss.variant("seam", keep=0.5).keep == 0.5
        with pytest.raises(ValueError, match="Unknown SEAM variant 'seem'"):
            SEAMLoss.variant("seem")

    def test_former_name_still_loads_with_a_warning(self):
        with pytest.warns(FutureWarning, match="'landed' is now called 'masked-cam-scale'"):
            former = SEAMLoss.variant("landed", keep=0.5)
        assert former.objective == SEAMLoss.variant("masked-cam-scale", keep=0.5).objective

    def test_angles_per_batch_or_image(self):
        g = torch.Generator().manual_seed(0)
        batch_angles = SEAMLoss(angle_per="batch").sample_angles(5, generator=g)
        image_angles = SEAMLoss(angle_per="image").sample_angles(5, generator=g)
        assert batch_angles.unique().numel() == 1 and image_angles.unique().numel() == 5
        assert image_angles.abs().max() <= 30


class TestSEAMStep:
    def test_only_pcm_changes(self, setup):
        model, pcm, images, labels = setup
        freeze_model(model)
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

    @pytest.mark.parametrize("variant", sorted(SEAM_VARIANTS))
    def test_parts_and_weights(self, setup, variant):
        model, pcm, images, labels = setup
        freeze_model(model)
        # the tiny model has no extra classifier output for the authors' PCM-input line
        loss_fn = SEAMLoss.variant(
            variant, lambda_msml=1.5, lambda_ecr=0.5, authors_input_bug=False
        )
        out = seam_step(model, pcm, images, labels, loss_fn, torch.Generator().manual_seed(3))
        parts = loss_fn(
            *(run_branch(model, pcm, x) for x in (images, loss_fn.warp(images, out.angles)[0])),
            labels,
            out.angles,
            (32, 32),
        )
        expected = 1.5 * out.msml + 0.5 * out.ecr
        expected = (
            expected + loss_fn.lambda_er * parts.er + loss_fn.lambda_min_pool * parts.min_pool
        )
        torch.testing.assert_close(out.loss, expected)
        assert out.angles.shape == (4,) and out.angles.abs().max() <= 30
        out.loss.backward()
        assert pcm.embedding.weight.grad.abs().sum() > 0

    def test_reproducible_with_generator(self, setup):
        model, pcm, images, labels = setup
        freeze_model(model)
        first = seam_step(model, pcm, images, labels, SEAMLoss(), torch.Generator().manual_seed(1))
        second = seam_step(model, pcm, images, labels, SEAMLoss(), torch.Generator().manual_seed(1))
        torch.testing.assert_close(first.loss, second.loss)

    def test_zero_angle_gives_zero_ecr_for_a_pcm_that_returns_its_input(self, setup):
        model, _, images, _ = setup
        freeze_model(model)

        class Identity(nn.Module):
            def forward(self, features, cams, images=None):
                return cams

        labels = torch.ones(4, 3)
        loss_fn = SEAMLoss(max_angle=0.0, ecr_normalize="none", ecr_resolution="cam")
        out = seam_step(model, Identity(), images, labels, loss_fn)
        assert out.ecr.item() == pytest.approx(0.0, abs=1e-5)

    def test_training_and_inference_give_the_pcm_the_same_input(self, setup):
        model, _, images, _ = setup
        freeze_model(model)
        seen = []

        class Recording(nn.Module):
            def forward(self, features, cams, images=None):
                seen.append(cams)
                return cams

        run_branch(model, Recording(), images)  # the training branch, as seam_step calls it
        _, cams, features = model(images)
        torch.testing.assert_close(seen[0], pcm_input(cams))
        refined = refine(Recording(), features, cams)  # evaluation, predict, benchmarks
        torch.testing.assert_close(seen[1], seen[0])
        assert refined.shape == cams.shape

    def test_refined_logits_msml_is_not_stuck_at_log_2(self, setup):
        model, pcm, images, labels = setup
        freeze_model(model)
        with torch.no_grad():
            model.classifier.bias.fill_(3.0)  # confident raw CAM logits
        paper = seam_step(model, pcm, images, labels, SEAMLoss())
        logits = seam_step(model, pcm, images, labels, SEAMLoss(msml_on="refined_logits"))
        assert abs(paper.msml.item() - math.log(2)) < 0.1
        assert abs(logits.msml.item() - math.log(2)) > 0.3
        logits.loss.backward()
        assert pcm.embedding.weight.grad is not None

    def test_pcm_that_reads_the_image(self, setup):
        model, _, images, _ = setup
        freeze_model(model)
        pcm = PCM(8, image_channels=3)
        out = run_branch(model, pcm, images)  # the branch hands the image to such a PCM
        assert out.refined.shape == (4, 4, 8, 8)
        _, cams, features = model(images)
        torch.testing.assert_close(out.refined[:, 1:], refine(pcm, features, cams, images))
        seam_step(model, pcm, images, torch.ones(4, 3), SEAMLoss()).loss.backward()
        assert pcm.embedding.weight.grad[:, -3:].abs().sum() > 0  # the image columns learn
        with pytest.raises(ValueError, match=r"`images` \(B, 3, H, W\)"):
            pcm(torch.randn(4, 8, 8, 8), torch.rand(4, 4, 8, 8))

    def test_bad_input(self, setup):
        model, pcm, images, labels = setup
        with pytest.raises(ValueError, match="freeze_model"):
            seam_step(model, pcm, images, labels, SEAMLoss())
        freeze_model(model)
        with pytest.raises(ValueError, match=r"same B.*\(4, 3, 32, 32\).*\(3, 3\)"):
            seam_step(model, pcm, images, labels[:3], SEAMLoss())
        with pytest.raises(ValueError, match="max_angle"):
            SEAMLoss(max_angle=-1)
        with pytest.raises(ValueError, match="ecr_normalize.*'l2'"):
            SEAMLoss(ecr_normalize="l2")
        with pytest.raises(ValueError, match="extra output.*returned 3 CAM channels for 3"):
            seam_step(model, pcm, images, labels, SEAMLoss(authors_input_bug=True))
        branch = BranchOutputs(torch.rand(4, 3, 8, 8), torch.rand(4, 4, 8, 8))
        with pytest.raises(ValueError, match="image_size"):
            SEAMLoss()(branch, branch, labels, torch.zeros(4))
        with pytest.raises(ValueError, match=r"`angles_deg`.*\(4,\)"):
            SEAMLoss()(branch, branch, labels, torch.zeros(3), (16, 16))

    def test_bf16_autocast(self, setup):
        model, pcm, images, labels = setup
        freeze_model(model)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = seam_step(model, pcm, images, labels, SEAMLoss())
        assert torch.isfinite(out.loss)
        out.loss.backward()
        assert pcm.embedding.weight.grad is not None


class TestObjectiveParts:
    """Each source's objective is a composition of parts; flat settings are fields of parts."""

    FLAT: ClassVar = {  # each source's changed settings, as the flat table listed them
        "paper": {},
        "seam": dict(
            transform="rescale", mask_padding=False, lambda_msml=1.0, ecr_normalize="minmax",
            ecr_targets="after", onehot="foreground", msml_on="cams", lambda_er=1.0,
            lambda_min_pool=1.0,
        ),
        "authors": dict(
            authors_input_bug=True, mask_padding=False, msml_reduction="sum", ecr_targets="after",
            onehot="all", normalize_eps=1e-6, rotation="torchvision",
        ),
        "masked-cam-scale": dict(
            mask_input=True, label_loss_maps=False, ecr_normalize="none", ecr_resolution="cam",
            angle_per="image",
        ),
    }  # fmt: skip

    @pytest.mark.parametrize("name", sorted(FLAT))
    def test_each_source_is_its_flat_settings(self, name):
        from pcm_seam import SEAM_OBJECTIVES

        assert SEAMLoss(**self.FLAT[name]).objective == SEAM_OBJECTIVES[name]
        assert SEAMLoss.variant(name).objective == SEAM_OBJECTIVES[name]

    def test_a_flat_setting_changes_one_field_of_one_part(self):
        from pcm_seam import SEAM_OBJECTIVES

        seam = SEAM_OBJECTIVES["seam"]
        changed = SEAMLoss.variant("seam", keep=0.5).objective
        assert changed.ecr.keep == 0.5 and changed.ecr.mask_padding is False
        assert (changed.transform, changed.msml, changed.weights) == (
            seam.transform, seam.msml, seam.weights,
        )  # fmt: skip
        assert SEAMLoss.variant("seam", keep=0.5).keep == 0.5

    def test_a_composition_of_parts_trains(self):
        from pcm_seam import ECRTerm, SEAMObjective, SiameseTransform, TermWeights

        objective = SEAMObjective(
            transform=SiameseTransform(max_angle=10.0, angle_per="image"),
            ecr=ECRTerm(keep=0.5, resolution="cam"),
            weights=TermWeights(msml=0.0),
        )
        loss_fn = SEAMLoss(objective)
        assert loss_fn.max_angle == 10.0 and loss_fn.lambda_msml == 0.0
        cams, refined = torch.randn(2, 3, 8, 8), torch.rand(2, 4, 8, 8, requires_grad=True)
        labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        branch = BranchOutputs(cams, refined)
        out = loss_fn(branch, branch, labels, torch.tensor([5.0, -5.0]))
        out.loss.backward()
        assert out.loss == out.ecr and refined.grad.abs().sum() > 0

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            ({"onehot": "some"}, "onehot"),
            ({"rescale_factor": 1.5}, "rescale_factor"),
            ({"transform": "rescale", "ecr_resolution": "cam"}, "needs ecr_resolution='image'"),
            ({"no_such_switch": 1}, "no_such_switch"),
        ],
    )
    def test_bad_settings_are_named(self, settings, message):
        with pytest.raises((ValueError, TypeError), match=message):
            SEAMLoss(**settings)
        with pytest.raises(TypeError, match="SEAMObjective"):
            SEAMLoss(1.5)


def test_a_step_reports_every_term_of_the_loss():
    """A term added to SEAMLossOutput reaches the step's output (and so a training history)."""
    from pcm_seam import SEAMLossOutput, SEAMStepOutput

    assert SEAMStepOutput._fields == (*SEAMLossOutput._fields, "angles")
