import math

import numpy as np
import pytest
import torch
from result_factories import model_metrics

from cxr14_data import BOX_CLASSES, CLASSES
from cxr_paper.configuration.map_methods import CAM_METHODS
from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.configuration.task import chestxray14
from cxr_paper.reporting.methods_table import methods_table
from cxr_paper.scoring.cam_methods import at_map_size, gradient_cam
from cxr_paper.scoring.kind_scores import KindScores
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.scores import LocalizationScores
from multires_backbone import create_model


@pytest.mark.parametrize("method", [m for m in CAM_METHODS if m != "cam"])
def test_gradient_methods_on_a_frozen_model(method):
    torch.manual_seed(0)
    model = create_model("multires_resnet10t").eval().requires_grad_(False)
    maps = gradient_cam(method, model, chestxray14())(torch.randn(2, 3, 32, 32))
    assert maps.shape == (2, 14, 32, 32) and maps.min() >= 0 and maps.max() <= 1 + 1e-6
    box = [CLASSES.index(c) for c in BOX_CLASSES]
    others = [i for i in range(14) if i not in box]
    assert maps[:, box].max() > 0 and maps[:, others].max() == 0  # only the 8 box classes
    assert not any(p.requires_grad for p in model.parameters())  # flags restored
    assert at_map_size(maps, (4, 4)).shape == (2, 14, 4, 4)


def _planted_scores(hit: bool) -> KindScores:
    """One image, Mass box at (8, 8, 8, 8) in a 32 px image; the map fires on it or beside it."""
    maps = np.zeros((14, 4, 4), np.float32)
    maps[CLASSES.index("Mass"), (1 if hit else 3), (1 if hit else 3)] = 1.0
    probs = np.full(14, 0.1)
    probs[CLASSES.index("Mass")] = 0.9
    scores = LocalizationScores(chestxray14())
    scores.update(maps, probs, (32, 32), {"Mass": np.array([[8.0, 8.0, 8.0, 8.0]])}, 1)
    return scores.compute()


def test_planted_scores_and_table():
    hit, miss = _planted_scores(True), _planted_scores(False)
    assert hit.fixed["Mass"].accuracy == 1.0 and hit.fixed["mean"].afp == 0
    assert miss.fixed["Mass"].accuracy == 0.0
    assert hit.pointing_game["Mass"].accuracy == 1.0
    assert miss.pointing_game["Mass"].accuracy == 0.0
    assert hit.max_box_acc_v2["Mass"].max_box_acc > miss.max_box_acc_v2["Mass"].max_box_acc
    assert math.isnan(hit.pointing_game["Nodule"].accuracy)
    metrics = {
        "model_a": model_metrics(
            localization={MapKind.parse("cam"): hit, MapKind.parse("pcm"): miss},
            cam_method_seconds={"cam": 2.0},
        )
    }
    table = methods_table(metrics, PAPER_PROTOCOL).to_markdown()
    assert "| model_a | CAM | 1.000 |" in table and "| model_a | CAM + PCM | 0.000 |" in table
    assert table.count("\n") == 3
