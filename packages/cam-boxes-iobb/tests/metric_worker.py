"""Random localization inputs and the torchmetrics results over them, shared by the tests and the
processes they spawn (importable by name in a spawned child: this folder is on ``sys.path``)."""

import numpy as np
import pytest

# collected by --doctest-modules too: without the [torchmetrics] extra, skipped, not an error
torch = pytest.importorskip("torch", reason="the [torchmetrics] extra is not installed")
pytest.importorskip("torchmetrics", reason="the [torchmetrics] extra is not installed")

from cam_boxes_iobb import LocalizationMetric, MaxBoxAcc, PointingGame  # noqa: E402
from cam_boxes_iobb.torch_metrics import (  # noqa: E402
    LocalizationAccuracy,
    MaxBoxAccuracy,
    PointingGameAccuracy,
)

CLASSES = ("Mass", "Nodule", "Effusion")
SIZE = 24


def random_images(seed: int, n: int):
    """Per image: predicted boxes, GT boxes, class maps and the original image's size."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        gt, pred, maps = {}, {}, {}
        for name in CLASSES:
            if rng.random() < 0.6:
                x, y = rng.uniform(0, 2 * SIZE - 12, 2)
                gt[name] = [[x, y, rng.uniform(3, 12), rng.uniform(3, 12)]]
                maps[name] = rng.random((SIZE // 2, SIZE // 2)) ** 3
            if rng.random() < 0.7:
                x, y = rng.uniform(0, SIZE - 8, 2)
                pred[name] = [[x, y, rng.uniform(2, 8), rng.uniform(2, 8)]]
        images.append((pred, gt, maps, (2 * SIZE, 2 * SIZE)))
    return images


def numpy_results(images):
    fixed = LocalizationMetric(CLASSES, (0.1, 0.5))
    v2 = MaxBoxAcc.v2(CLASSES, thresholds=np.linspace(0, 0.95, 12))
    pointing = PointingGame(CLASSES, tolerance=3)
    for pred, gt, maps, size in images:
        fixed.update(pred, gt)
        v2.update(maps, gt, size=size)
        pointing.update(maps, gt, size=size)
    names = [*CLASSES, "mean"]
    out = {}
    result = fixed.compute()
    for name in names:
        for t in (0.1, 0.5):
            out[f"fixed accuracy/{t}/{name}"] = result[name][t]["accuracy"]
            out[f"fixed afp/{t}/{name}"] = result[name][t]["afp"]
        out[f"v2/{name}"] = v2.compute()[name]["max_box_acc"]
        out[f"pointing/{name}"] = pointing.compute()[name]["accuracy"]
    return out


def torch_metrics():
    return (
        LocalizationAccuracy(CLASSES, (0.1, 0.5)),
        MaxBoxAccuracy(CLASSES, thresholds=np.linspace(0, 0.95, 12)),
        PointingGameAccuracy(CLASSES, tolerance=3),
    )


def torch_results(images, batch=4, metrics=None):
    fixed, v2, pointing = metrics or torch_metrics()
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        fixed.update([c[0] for c in chunk], [c[1] for c in chunk])
        v2.update([c[2] for c in chunk], [c[1] for c in chunk], [c[3] for c in chunk])
        pointing.update([c[2] for c in chunk], [c[1] for c in chunk], [c[3] for c in chunk])
    out = {}
    for key, value in fixed.compute().items():
        kind, t, name = key.split("/")
        out[f"fixed {kind}/{t}/{name}"] = float(value)
    out |= {f"v2/{k.split('/')[1]}": float(v) for k, v in v2.compute().items()}
    out |= {f"pointing/{k.split('/')[1]}": float(v) for k, v in pointing.compute().items()}
    return out


def rank_main(rank, world, init_file, images, out):
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    mine = images[rank::world]
    recording = LocalizationAccuracy(CLASSES, (0.1, 0.5), keep_records=True)
    metrics = (recording, *torch_metrics()[1:])
    result = torch_results(mine, metrics=metrics)  # compute() syncs the states across both
    records = recording.records()  # synced as compute() is: every process's images
    result["records"] = {key: value.tolist() for key, value in records.items()}
    torch.save(result, out.format(rank=rank))
    torch.distributed.destroy_process_group()
