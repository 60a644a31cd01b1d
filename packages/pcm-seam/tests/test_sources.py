# ruff: noqa: RUF059  (the transcriptions keep the sources' unused names, line by line)
"""The ``seam`` and ``authors`` variants against their sources, transcribed line by line.

Each reference below restates the source's code with the names it uses, after the model's forward
(both sources upsample the CAM and the PCM output to the input's size there, bilinear with
``align_corners=True``), and runs in float64 on seeded inputs; the variant must give the same loss
and the same gradient with respect to the PCM's output, to 1e-6.
"""

import pytest
import torch
import torch.nn.functional as F

from pcm_seam import PCM, BranchOutputs, SEAMLoss, freeze_model, pcm_input, seam_step
from pcm_seam.losses import min_pooling_loss

torchvision_functional = pytest.importorskip("torchvision.transforms.functional")


# ---- YudeWang/SEAM -------------------------------------------------------------------------


def seam_adaptive_min_pooling_loss(x):  # train_SEAM.py, lines 16-24
    n, c, h, w = x.size()
    k = h * w // 4
    x = torch.max(x, dim=1)[0]
    y = torch.topk(x.view(n, -1), k=k, dim=-1, largest=False)[0]
    y = F.relu(y, inplace=False)
    loss = torch.sum(y) / (k * n)
    return loss


def seam_max_onehot(x):  # train_SEAM.py, lines 26-30
    n, c, h, w = x.size()
    x_max = torch.max(x[:, 1:, :, :], dim=1, keepdim=True)[0]
    x[:, 1:, :, :][x[:, 1:, :, :] != x_max] = 0
    return x


def seam_max_norm(p, e=1e-5):  # tool/visualization.py, lines 54 and 62-67 (the 4-D case)
    N, C, H, W = p.size()
    p = F.relu(p)
    max_v = torch.max(p.view(N, C, -1), dim=-1)[0].view(N, C, 1, 1)
    min_v = torch.min(p.view(N, C, -1), dim=-1)[0].view(N, C, 1, 1)
    p = F.relu(p - min_v - e) / (max_v - min_v + e)
    return p


def seam_loss(cam1, cam_rv1, cam2, cam_rv2, label):
    """train_SEAM.py, lines 104-142, from ``cam1, cam_rv1 = model(img1)`` on (21 = K + 1
    channels, background first; ``label`` already has the background's 1 first)."""
    scale_factor = 0.3
    N = cam1.size(0)
    label = label.unsqueeze(2).unsqueeze(3)

    label1 = F.adaptive_avg_pool2d(cam1, (1, 1))
    loss_rvmin1 = seam_adaptive_min_pooling_loss((cam_rv1 * label)[:, 1:, :, :])
    cam1 = (
        F.interpolate(
            seam_max_norm(cam1), scale_factor=scale_factor, mode="bilinear", align_corners=True
        )
        * label
    )
    cam_rv1 = (
        F.interpolate(
            seam_max_norm(cam_rv1), scale_factor=scale_factor, mode="bilinear", align_corners=True
        )
        * label
    )

    label2 = F.adaptive_avg_pool2d(cam2, (1, 1))
    loss_rvmin2 = seam_adaptive_min_pooling_loss((cam_rv2 * label)[:, 1:, :, :])
    cam2 = seam_max_norm(cam2) * label
    cam_rv2 = seam_max_norm(cam_rv2) * label

    loss_cls1 = F.multilabel_soft_margin_loss(label1[:, 1:, :, :], label[:, 1:, :, :])
    loss_cls2 = F.multilabel_soft_margin_loss(label2[:, 1:, :, :], label[:, 1:, :, :])

    ns, cs, hs, ws = cam2.size()
    loss_er = torch.mean(torch.abs(cam1[:, 1:, :, :] - cam2[:, 1:, :, :]))
    cam1[:, 0, :, :] = 1 - torch.max(cam1[:, 1:, :, :], dim=1)[0]
    cam2[:, 0, :, :] = 1 - torch.max(cam2[:, 1:, :, :], dim=1)[0]
    tensor_ecr1 = torch.abs(seam_max_onehot(cam2.detach()) - cam_rv1)
    tensor_ecr2 = torch.abs(seam_max_onehot(cam1.detach()) - cam_rv2)
    loss_ecr1 = torch.mean(
        torch.topk(tensor_ecr1.view(ns, -1), k=int(cs * hs * ws * 0.2), dim=-1)[0]
    )
    loss_ecr2 = torch.mean(
        torch.topk(tensor_ecr2.view(ns, -1), k=int(cs * hs * ws * 0.2), dim=-1)[0]
    )
    loss_ecr = loss_ecr1 + loss_ecr2

    loss_cls = (loss_cls1 + loss_cls2) / 2 + (loss_rvmin1 + loss_rvmin2) / 2
    loss = loss_cls + loss_er + loss_ecr
    del N
    return loss


# ---- the authors: gavin-d26/Localization-of-Lung-abnormalities-on-Chest-X-Rays-... -----------


def authors_max_onehot(x):  # scripts/utils.py, lines 7-10
    x_max = torch.max(x, dim=1, keepdim=True)[0]
    x[x != x_max] = 0
    return x


def authors_max_norm(p, e=1e-6):  # scripts/utils.py, lines 30 and 38-43 (the 4-D case)
    N, C, H, W = p.size()
    p = F.relu(p)
    max_v = torch.max(p.view(N, C, -1), dim=-1)[0].view(N, C, 1, 1)
    p = p / (max_v + e)
    return p


def authors_affine_transform(x, a):  # scripts/create_model.py, lines 58-59
    return torchvision_functional.rotate(
        x, a, interpolation=torchvision_functional.InterpolationMode.BILINEAR
    )


def authors_loss(
    cam1, cam_rv1, cam2, cam_rv2, labels, a, mask_scale=0.2, lambda_msml=1.5, lambda_ecr=1.0
):
    """scripts/create_model.py, ``PcmModel.train_step`` lines 68-104, from ``cam1, cam_rv1, pred1
    = self(img1)`` on (15 channels, the background *last*; ``labels`` the 14 image labels); the
    division by the accumulation steps (line 105) left out."""
    N = cam1.size(0)
    bg_score = torch.ones((N, 1), dtype=labels.dtype)
    labels = torch.cat((labels, bg_score), dim=1)
    labels = labels.unsqueeze(-1).unsqueeze(-1)

    label1 = F.adaptive_avg_pool2d(cam_rv1, (1, 1))
    label2 = F.adaptive_avg_pool2d(cam_rv2, (1, 1))
    loss_msml1 = F.multilabel_soft_margin_loss(label1[:, :14, :, :], labels[:, :14, :, :])
    loss_msml2 = F.multilabel_soft_margin_loss(label2[:, :14, :, :], labels[:, :14, :, :])

    cam1 = authors_affine_transform(authors_max_norm(cam1), a) * labels
    cam_rv1 = authors_affine_transform(authors_max_norm(cam_rv1), a) * labels

    ns, cs, hs, ws = cam2.size()

    cam2 = authors_max_norm(cam2) * labels
    cam_rv2 = authors_max_norm(cam_rv2) * labels

    cam1[:, 14, :, :] = 1 - torch.max(cam1[:, :14, :, :], dim=1)[0]
    cam2[:, 14, :, :] = 1 - torch.max(cam2[:, :14, :, :], dim=1)[0]

    tensor_ecr1 = torch.abs(authors_max_onehot(cam2.detach()) - cam_rv1)
    tensor_ecr2 = torch.abs(authors_max_onehot(cam1.detach()) - cam_rv2)

    loss_ecr1 = torch.mean(
        torch.topk(tensor_ecr1.view(ns, -1), k=int(cs * hs * ws * mask_scale), dim=-1)[0]
    )
    loss_ecr2 = torch.mean(
        torch.topk(tensor_ecr2.view(ns, -1), k=int(cs * hs * ws * mask_scale), dim=-1)[0]
    )

    loss_ecr = loss_ecr1 + loss_ecr2
    loss_msml = loss_msml1 + loss_msml2
    loss = loss_msml * lambda_msml + lambda_ecr * loss_ecr
    return loss


def authors_pcm_input(cam):
    """scripts/create_model.py, ``Resnet50_PCM.forward`` lines 356-365: what ``self.pcm``
    receives (``cam_d_norm``; the line that computes the background writes into ``cam_d``)."""
    n, c, h, w = cam.size()
    with torch.no_grad():
        cam_d = F.relu(cam.detach())
        cam_d_max = torch.max(cam_d.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1) + 1e-5
        cam_d_norm = F.relu(cam_d - 1e-5) / cam_d_max
        cam_d[:, -1, :, :] = 1 - torch.max(cam_d_norm[:, :-1, :, :], dim=1)[0]
        cam_max = torch.max(cam_d_norm[:, :-1, :, :], dim=1, keepdim=True)[0]
        cam_d_norm[:, :-1, :, :][cam_d_norm[:, :-1, :, :] < cam_max] = 0
    return cam_d_norm


# ---- the comparisons -----------------------------------------------------------------------

CLASSES = 14


def up(x, size):  # both models' forward: bilinear, align_corners=True, to the input's size
    return F.interpolate(x, size, mode="bilinear", align_corners=True)


def branches(seed, batch=3, cam=(5, 6)):
    """Raw CAMs (14 channels) and refined maps (15, background first) for both branches, and
    labels; the refined maps require a gradient."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(2):
        cams = torch.randn(batch, CLASSES, *cam, generator=g, dtype=torch.float64) * 2
        refined = torch.rand(batch, CLASSES + 1, *cam, generator=g, dtype=torch.float64)
        refined[:, :, 0, 0] = 0.0  # a floor and a peak in every map
        out.append(BranchOutputs(cams, refined.requires_grad_(True)))
    labels = (torch.rand(batch, CLASSES, generator=g) < 0.3).double()
    labels[0] = 0.0  # an image without findings
    return out[0], out[1], labels, g


@pytest.mark.parametrize("seed", range(6))
def test_seam_variant_is_train_seam(seed):
    original, transformed, labels, g = branches(seed)
    size = (20, 23)
    size2 = tuple(int(s * 0.3) for s in size)
    loss_fn = SEAMLoss.variant("seam")
    got = loss_fn(original, transformed, labels, torch.zeros(3, dtype=torch.float64), size)
    grads = torch.autograd.grad(got.loss, (original.refined, transformed.refined))

    background = torch.randn(3, 1, 5, 6, generator=g, dtype=torch.float64)  # fc8's channel 0
    label = torch.cat([torch.ones(3, 1, dtype=torch.float64), labels], dim=1)
    rv1, rv2 = (b.refined.detach().clone().requires_grad_(True) for b in (original, transformed))
    expected = seam_loss(
        up(torch.cat([background, original.cams], dim=1), size),
        up(rv1, size),
        up(torch.cat([background, transformed.cams], dim=1), size2),
        up(rv2, size2),
        label,
    )
    expected_grads = torch.autograd.grad(expected, (rv1, rv2))
    torch.testing.assert_close(got.loss, expected, rtol=0, atol=1e-6)
    for mine, theirs in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)
    assert got.er > 0 and got.min_pool > 0  # SEAM's extra terms are in


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("angle", [0.0, 13.0, -27.5])
def test_authors_variant_is_their_train_step(seed, angle):
    original, transformed, labels, g = branches(seed, cam=(6, 6))
    size = (24, 24)
    loss_fn = SEAMLoss.variant("authors")
    angles = torch.full((3,), angle, dtype=torch.float64)
    got = loss_fn(original, transformed, labels, angles, size)
    grads = torch.autograd.grad(got.loss, (original.refined, transformed.refined))

    def theirs(refined):  # background last, as their 15th channel
        return torch.cat([refined[:, 1:], refined[:, :1]], dim=1)

    extra = torch.randn(3, 1, 6, 6, generator=g, dtype=torch.float64)  # the 15th output
    rv1, rv2 = (
        theirs(b.refined.detach()).clone().requires_grad_(True) for b in (original, transformed)
    )
    expected = authors_loss(
        up(torch.cat([original.cams, extra], dim=1), size),
        up(rv1, size),
        up(torch.cat([transformed.cams, extra], dim=1), size),
        up(rv2, size),
        labels,
        angle,
    )
    expected_grads = [theirs_grad for theirs_grad in torch.autograd.grad(expected, (rv1, rv2))]
    torch.testing.assert_close(got.loss, expected, rtol=0, atol=1e-6)
    for mine, their in zip(grads, expected_grads, strict=True):
        back = torch.cat([their[:, -1:], their[:, :-1]], dim=1)  # background first again
        torch.testing.assert_close(mine, back, rtol=0, atol=1e-6)


def test_min_pooling_loss_is_seams():
    g = torch.Generator().manual_seed(0)
    maps = torch.randn(2, 5, 7, 9, generator=g, dtype=torch.float64)
    torch.testing.assert_close(min_pooling_loss(maps), seam_adaptive_min_pooling_loss(maps))


def test_what_differs_from_the_paper_default():
    seam, authors, paper = (SEAMLoss.variant(n) for n in ("seam", "authors", "paper"))
    assert (seam.transform, seam.ecr_normalize, seam.msml_on, seam.lambda_msml) == (
        "rescale",
        "minmax",
        "cams",
        1.0,
    )
    assert (authors.onehot, authors.ecr_targets, authors.rotation) == (
        "all",
        "after",
        "torchvision",
    )
    assert (paper.ecr_targets, paper.transform, paper.lambda_er, paper.lambda_min_pool) == (
        "before",
        "rotate",
        0.0,
        0.0,
    )


@pytest.mark.parametrize("seed", range(4))
def test_authors_input_bug_is_their_pcm_input(seed):
    g = torch.Generator().manual_seed(seed)
    cams = torch.randn(2, CLASSES + 1, 8, 8, generator=g)  # 14 classes + the extra output
    expected = authors_pcm_input(cams.clone())
    got = pcm_input(cams, authors_input_bug=True)
    torch.testing.assert_close(got[:, 1:], expected[:, :-1], rtol=0, atol=1e-7)
    torch.testing.assert_close(got[:, :1], expected[:, -1:], rtol=0, atol=1e-7)  # background
    # what the intended line would have given: 1 - max of the class maps, not the extra map
    assert not torch.allclose(got[:, 0], 1 - expected[:, :-1].amax(dim=1))


def test_authors_variant_trains_through_the_bug():
    class WithExtraOutput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Conv2d(3, 8, 3, stride=4, padding=1)
            self.classifier = torch.nn.Conv2d(8, 3 + 1, 1)  # 3 classes + one extra output

        def forward(self, x):
            f = self.features(x)
            cams = self.classifier(f)
            return cams.mean((2, 3)), cams, f

    torch.manual_seed(0)
    model, pcm = freeze_model(WithExtraOutput()), PCM(8)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    loss_fn = SEAMLoss.variant("authors")
    assert loss_fn.authors_input_bug
    out = seam_step(model, pcm, torch.rand(2, 3, 32, 32), labels, loss_fn)
    out.loss.backward()
    assert pcm.embedding.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="extra output last"):
        pcm_input(torch.rand(2, 1, 4, 4), authors_input_bug=True)
