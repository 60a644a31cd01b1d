"""Training learns, keeps its best epoch and follows its schedule: tests that fail if the
optimizer never stepped, if the restored weights were not the best epoch's, or if the learning
rate never dropped on a plateau."""

import dataclasses

import pytest
import torch
from sklearn.metrics import roc_auc_score
from training_batches import CPU, ListLoaders, scripted_validation, separable_batches

from cxr_paper.configuration.config import RunConfig
from cxr_paper.learning.training import fit_classifier
from multires_backbone import create_model


def _config(**changes) -> RunConfig:
    base = dict(amp="off", checkpoint_every=0, accumulation=1, batch_size=8, lr=1e-3)
    return dataclasses.replace(RunConfig(), **{**base, **changes})


def _model(classes: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("resnet10t", num_classes=classes)


@torch.no_grad()
def _auroc(model, batches) -> float:
    model.eval()
    scores = torch.cat([torch.sigmoid(model(b["image"]).logits) for b in batches])
    labels = torch.cat([b["labels"] for b in batches])
    return float(roc_auc_score(labels.numpy(), scores.numpy(), average="macro"))


def test_a_classifier_learns_separable_data(tmp_path):
    train, held_out = separable_batches(8, seed=0), separable_batches(4, seed=1)
    model = _model()
    before = _auroc(model, held_out)
    history = fit_classifier(
        "m", model, ListLoaders(train, held_out), _config(epochs=3), tmp_path, CPU, False
    )
    after = _auroc(model, held_out)
    assert before < 0.75 and after > 0.95, (before, after)
    assert max(history["val_auroc"]) == pytest.approx(after), history["val_auroc"]
    assert history["train_loss"][-1] < 0.8 * history["train_loss"][0], history["train_loss"]


def test_the_restored_weights_are_the_best_epochs(tmp_path, monkeypatch):
    snapshots: list[dict] = []
    scripted_validation(monkeypatch, [0.6, 0.8, 0.7], snapshots)
    model = _model()
    fit_classifier(
        "m", model, ListLoaders(separable_batches(2)), _config(epochs=3), tmp_path, CPU, False
    )
    best, last = snapshots[1], snapshots[2]
    assert not torch.equal(best["classifier.weight"], last["classifier.weight"])
    for name, value in model.state_dict().items():
        assert torch.equal(value, best[name]), name
    assert torch.load(tmp_path / "stage1_best.pt", weights_only=True)["epoch"] == 2


@pytest.mark.parametrize(
    ("aurocs", "expected"),
    [
        ([0.6, 0.6, 0.6, 0.6], [1e-3, 1e-3, 1e-4, 1e-4]),  # stalls: cut after patience 1 + 1
        ([0.6, 0.7, 0.8, 0.9], [1e-3] * 4),  # improves: never cut
    ],
)
def test_the_learning_rate_drops_when_validation_stalls(tmp_path, monkeypatch, aurocs, expected):
    scripted_validation(monkeypatch, aurocs, [])
    config = _config(epochs=4, plateau_patience=1, plateau_factor=0.1)
    history = fit_classifier(
        "m", _model(), ListLoaders(separable_batches(1)), config, tmp_path, CPU, False
    )
    assert history["lr"] == pytest.approx(expected)
