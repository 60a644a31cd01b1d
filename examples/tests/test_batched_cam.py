"""The batched Grad-CAM family equals pytorch-grad-cam, class by class, on random models and
inputs; and the evaluation's maps equal the library's."""

import numpy as np
import pytest
import pytorch_grad_cam
import torch
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from cxr14_data import BOX_CLASSES, CLASSES
from cxr_paper.configuration.task import chestxray14
from cxr_paper.scoring.batched_cam import METHODS, batched_cams, library_scaling
from cxr_paper.scoring.cam_methods import _LIBRARY_NAMES, LogitsOnly, gradient_cam
from multires_backbone import create_model


def library_maps(method, model, layer, images, classes):
    explainer = getattr(pytorch_grad_cam, _LIBRARY_NAMES[method])(
        model=model, target_layers=[layer]
    )
    return np.stack(
        [
            explainer(input_tensor=images, targets=[ClassifierOutputTarget(k)] * len(images))
            for k in classes
        ],
        axis=1,
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_pytorch_grad_cam(method, seed):
    torch.manual_seed(seed)
    model = create_model("multires_resnet10t", num_classes=6).eval()
    wrapped = LogitsOnly(model)
    images = torch.randn(3, 3, 64, 48)
    classes = [0, 2, 5]
    ours = library_scaling(
        batched_cams(method, wrapped, model.feature_map, images, classes).numpy(), (64, 48)
    )
    theirs = library_maps(method, wrapped, model.feature_map, images, classes)
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_raw_gradcam_by_hand():
    """A linear model over a fixed map: G is the classifier's weight, so Grad-CAM is known."""
    torch.manual_seed(0)
    features = torch.nn.Identity()
    weight = torch.randn(4, 3)

    def model(x):
        f = features(x)  # (B, 3, h, w)
        return f.mean(dim=(2, 3)) @ weight.T

    x = torch.rand(2, 3, 5, 5)
    maps = batched_cams("gradcam", model, features, x, [1, 3])
    for row, k in enumerate([1, 3]):
        # d logit_k / d A = weight[k] / (h w) at every pixel; its spatial mean is the same
        expected = torch.relu((weight[k][None, :, None, None] / 25 * x).sum(1))
        torch.testing.assert_close(maps[:, row], expected)


def test_evaluation_maps_are_the_librarys():
    torch.manual_seed(0)
    model = create_model("multires_resnet10t").eval().requires_grad_(False)
    images = torch.randn(2, 3, 32, 32)
    maps = gradient_cam("gradcam++", model, chestxray14())(images)
    box = [CLASSES.index(c) for c in BOX_CLASSES]
    model.requires_grad_(True)
    theirs = library_maps("gradcam++", LogitsOnly(model), model.feature_map, images, box)
    np.testing.assert_allclose(maps[:, box], theirs, atol=2e-5)
    others = [i for i in range(14) if i not in box]
    assert maps[:, others].max() == 0


def test_unknown_method():
    with pytest.raises(ValueError, match=r"Unknown method 'gradcam\+'"):
        batched_cams("gradcam+", lambda x: x, torch.nn.Identity(), torch.zeros(1, 1, 2, 2), [0])
