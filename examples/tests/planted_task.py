"""A second task (VinDr-CXR-style classes and box frame) with a model whose CAMs are planted near
its GT boxes: small batches for the evaluator's tests (importable by name in a spawned rank)."""

import numpy as np
import torch

from cxr_paper.configuration.task import Task
from multires_backbone import CAMOutput

TASK = Task(
    "VinDr-CXR-style",
    ("Aortic enlargement", "ILD", "Nodule/Mass"),
    ("Aortic enlargement", "Nodule/Mass"),
    (2048, 1536),
)
SIZE = 32  # network input; the maps are at 1/4


class PlantedModel(torch.nn.Module):
    """CAMs with one blob per image and class (near the first GT box where there is one)."""

    def __init__(self, maps: dict[str, torch.Tensor], logits: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.maps, self.logits = maps, logits

    def forward(self, images: torch.Tensor) -> CAMOutput:
        keys = [f"{float(image[0, 0, 0]):.6f}" for image in images]
        cams = torch.stack([self.maps[k] for k in keys])
        return CAMOutput(
            torch.stack([self.logits[k] for k in keys]), cams, torch.ones(len(images), 4, 8, 8)
        )


def planted_batches(rng):
    """Three batches of four images of :data:`TASK` (two readers' boxes where an image has
    them), the model whose CAMs peak near them, and each image's (patient, boxes in the frame)."""
    batches, maps, logits, gt_frame = [], {}, {}, {}
    for b in range(3):
        images = torch.rand(4, 3, SIZE, SIZE)
        batch = {
            "image": images,
            "labels": torch.zeros(4, 3),
            "image_index": [],
            "patient_id": [],
            "boxes": [],
        }
        for i in range(4):
            name, key = f"img{b}{i}", f"{float(images[i, 0, 0, 0]):.6f}"
            batch["image_index"].append(name)
            batch["patient_id"].append(b * 2 + i // 2)
            cam = torch.from_numpy(rng.normal(scale=0.2, size=(3, 8, 8)).astype(np.float32))
            boxes, boxes_frame = {}, {}
            for label in TASK.box_classes if (b + i) % 3 else ():
                k = TASK.index(label)
                x, y = rng.integers(0, 20, size=2)
                readers = np.array([[x, y, 10, 9], [x + 1, y, 9, 10]], np.float32)  # two readers
                boxes[label] = torch.from_numpy(readers)
                boxes_frame[label] = readers * np.array([1536 / SIZE, 2048 / SIZE] * 2)
                batch["labels"][i, k] = 1
                if rng.random() < 0.7:
                    cam[k, (y + 4) // 4, (x + 4) // 4] += 3
            batch["boxes"].append(boxes)
            maps[key], logits[key] = cam, torch.from_numpy(rng.normal(size=3).astype(np.float32))
            gt_frame[name] = (b * 2 + i // 2, boxes_frame)
        batches.append(batch)
    return batches, PlantedModel(maps, logits), gt_frame
