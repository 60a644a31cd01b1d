"""Helpers the training tests share: random batches and a one-process CPU context."""

import torch

from cxr_paper.machine.distributed import DistContext

CPU = DistContext(0, 1, 0, torch.device("cpu"))


def random_batches(count: int, size: int = 4, seed: int = 0) -> list[dict]:
    """``count`` batches of 64-px images with random multi-labels (about 30 % positive)."""
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "image": torch.randn(size, 3, 64, 64, generator=g),
            "labels": (torch.rand(size, 14, generator=g) < 0.3).float(),
        }
        for _ in range(count)
    ]


class ListLoaders:
    """What ``fit_classifier`` reads of :class:`cxr_paper.inputs.data.Loaders`, over fixed
    batches."""

    class _Sampler:
        def set_epoch(self, epoch: int, start: int = 0) -> None:
            pass

    class _Task:
        def __init__(self, count: int) -> None:
            self.classes = tuple(f"class{i}" for i in range(count))

    def __init__(self, train: list[dict], val: list[dict] | None = None) -> None:
        self.train, self.val = train, val if val is not None else train
        self.train_sampler = self._Sampler()
        self.task = self._Task(train[0]["labels"].shape[1])


def scripted_validation(monkeypatch, aurocs: list[float], snapshots: list[dict]) -> None:
    """Make ``fit_classifier``'s validation return ``aurocs`` in turn (so the test decides
    which epoch is best) and keep a copy of the weights it saw at each epoch."""
    import cxr_paper.learning.training as training

    calls = iter(aurocs)

    def validate(model, loader, criterion, ctx, classes, amp=None):
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return 1.0, {"mean": next(calls)}, []

    monkeypatch.setattr(training, "evaluate_classification", validate)


def separable_batches(count: int, size: int = 8, classes: int = 2, seed: int = 0) -> list[dict]:
    """Batches a classifier can learn: class ``k`` present <=> a bright 16 x 16 square in the
    ``k``-th quarter of a noisy 64-px image (about half the images carry each class)."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        images = torch.randn(size, 3, 64, 64, generator=g) * 0.5
        labels = (torch.rand(size, classes, generator=g) < 0.5).float()
        for k in range(classes):
            top, left = 32 * (k // 2) + 8, 32 * (k % 2) + 8
            images[:, :, top : top + 16, left : left + 16] += 2.0 * labels[:, k, None, None, None]
        batches.append({"image": images, "labels": labels})
    return batches
