"""Helpers the training tests share: random batches and a one-process CPU context."""

import torch

from cxr_paper.distributed import DistContext

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
