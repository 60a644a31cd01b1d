"""Facts of a trained model beside its test scores: the validation outputs its decisions are
chosen on, its parameter counts (Table 4) and its inference time."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cxr_paper.machine.distributed import DistContext, gather
from cxr_paper.machine.timing import time_call
from cxr_paper.scoring.auroc import known_labels
from cxr_paper.scoring.model_metrics import Params
from multires_backbone import CAMClassifier, published_parameter_count
from pcm_seam import PCM, refine


@torch.no_grad()
def split_logits(
    model: CAMClassifier, loader: DataLoader, ctx: DistContext, desc: str = "validation"
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and logits of every readable image of a split, all ranks gathered: what the
    operating points and the temperature are chosen on.

    Args:
        model: the classifier.
        loader: the split (batches with ``image`` ``(B, 3, H, W)`` and ``labels`` ``(B, K)``).
        ctx: the process group.
        desc: the progress bar's label.

    Returns:
        ``(labels, logits)``, each ``(N, K)`` numpy (float32 logits).

    Raises:
        ValueError: the split holds no readable image.
    """
    model.eval()
    labels, logits = [], []
    for batch in tqdm(loader, desc=desc, leave=False, unit="batch", disable=not ctx.is_main):
        if "image" in batch:
            logits.append(model(batch["image"].to(ctx.device)).logits.float().cpu().numpy())
            labels.append(known_labels(batch))
    parts = gather({"labels": labels, "logits": logits}, ctx)
    if not any(part["labels"] for part in parts):
        raise ValueError("The validation split holds no readable image to choose thresholds on.")
    return tuple(np.concatenate([a for part in parts for a in part[key]]) for key in parts[0])


def parameter_counts(name: str, model: CAMClassifier, pcm: PCM) -> Params:
    """Parameter counts (Table 4).

    Args:
        name: the architecture (``"multires_resnet50"``, ...).
        model: the classifier (one output per class).
        pcm: its PCM.

    Returns:
        The model's, the model's with its PCM, and the published configuration's (the authors'
        way of counting: one more classifier output).
    """

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    return Params(
        model=count(model),
        model_with_pcm=count(model) + count(pcm),
        published_configuration=published_parameter_count(name, model.num_classes),
    )


@torch.no_grad()
def inference_ms(
    model: CAMClassifier, pcm: PCM | None, device: torch.device, repeats: int, size: int = 256
) -> float:
    """Median time of one forward of a ``(1, 3, size, size)`` image (Table 4).

    Args:
        model: the classifier.
        pcm: its PCM (its refinement is timed too), or ``None``.
        device: where to time it.
        repeats: ``torch.utils.benchmark`` runs at least ``repeats`` x 50 ms of calls.
        size: the input side (the paper's 256).

    Returns:
        Milliseconds.
    """
    model.eval()
    x = torch.randn(1, 3, size, size, device=device)

    def run() -> None:
        out = model(x)
        if pcm is not None:
            refine(pcm, out.features, out.cams, x)

    return time_call(run, min_run_time=0.05 * repeats).median_ms
