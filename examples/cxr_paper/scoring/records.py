"""``test_records.npz`` and ``maps/<kind>.npz``: every per-image result of a model's test split.

The file (numpy's ``.npz``, no pickle: ``np.load(path)``) lets anyone recompute any number of the
report, resample it differently, or pair it with another model's file by image name. Arrays:

- ``classes`` ``(K,)`` and ``box_classes`` ``(B,)``: the data set's classes and those with boxes.
- ``image_index`` ``(N,)`` str, ``patient_id`` ``(N,)``, ``labels`` and ``probs`` ``(N, K)``:
  every scored test image, in ``classes`` order.
- For each map kind ``V`` (``cam``, ``pcm``, ``gradcam``, ``gradcam+pcm``, ...), over the ``M``
  test images with GT boxes and the ``B`` box classes (``box_classes`` order):
  ``V.image_index`` ``(M,)``, ``V.patient_id`` ``(M,)``, ``V.gt_boxes`` ``(M, B)`` (GT boxes),
  ``V.hits_iobb_0.1`` ``(M, B)`` (GT boxes hit at IoBB > 0.1, paper protocol),
  ``V.false_positives_iobb_0.1`` ``(M, B)``, ``V.max_box_acc_v2_correct`` ``(M, B, 100, 3)``
  (bool: at heatmap threshold 0.00 ... 0.99 some box reaches IoU 0.3 / 0.5 / 0.7),
  ``V.pointing_hits`` ``(M, B)`` and ``V.held_out`` ``(M,)`` (bool: scored by the calibrated
  threshold rather than choosing it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cam_boxes_iobb import save_maps
from cxr_paper.files.atomic import atomic_write
from cxr_paper.files.manifest import record_output
from cxr_paper.scoring.outcome import TestResult

RECORDS_FILE = "test_records.npz"
MAPS_FOLDER = "maps"


def save_records(test: TestResult, folder: Path) -> Path:
    """Write ``folder/test_records.npz`` atomically.

    Args:
        test: The test result.
        folder: The model's folder.

    Returns:
        The written file's path.
    """
    arrays: dict[str, np.ndarray] = {
        "classes": np.asarray(test.task.classes, dtype=str),
        "box_classes": np.asarray(test.task.box_classes, dtype=str),
        "image_index": np.asarray(test.image_names, dtype=str),
        "patient_id": np.asarray(test.patients, dtype=np.int64),
        "labels": np.asarray(test.labels),
        "probs": np.asarray(test.probs),
    }
    for kind, scores in test.scores.items():
        arrays[f"{kind}.image_index"] = np.asarray(scores.image_names, dtype=str)
        arrays[f"{kind}.patient_id"] = np.asarray(scores.patients, dtype=np.int64)
        for key, value in scores.records().items():
            arrays[f"{kind}.{key}"] = value
    return atomic_write(folder / RECORDS_FILE, lambda path: np.savez_compressed(path, **arrays))


def save_test_maps(test: TestResult, folder: Path) -> list[Path]:
    """Write each map kind's class maps of the test images with boxes as
    ``folder/maps/<kind>.npz``, the file contract ``python -m cam_boxes_iobb score`` reads
    (maps at the network's resolution, every class, with the classifier's probabilities).

    Args:
        test: The test result, with its ``maps``.
        folder: The model's folder.

    Returns:
        The written files' paths, one per map kind.
    """
    paths = []
    for kind, saved in test.maps.items():
        if saved["ids"]:
            record_output(folder / MAPS_FOLDER / f"{kind}.npz")
            paths.append(
                save_maps(
                    folder / MAPS_FOLDER / f"{kind}.npz",
                    saved["ids"],
                    test.task.classes,
                    np.stack(saved["maps"]),
                    np.stack(saved["probs"]),
                )
            )
    return paths
