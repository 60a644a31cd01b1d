"""A finished model's results: one typed object, saved beside its checkpoints as ``result.json``
(every number, readable by anything) and ``result.npz`` (its arrays; ``np.load`` without pickle),
and read back alike by the report, the figures, the seed study and ``--resume``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.configuration.task import Task, TaskError, chestxray14
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_write
from cxr_paper.files.jsonio import read_json, write_json
from cxr_paper.scoring.evaluation import TestResult
from cxr_paper.scoring.scores import LocalizationScores

RESULT_JSON = "result.json"
RESULT_ARRAYS = "result.npz"
FORMAT = 1
_ARRAY = "__array__"


@dataclass
class ModelResult:
    """One model of a run: its test split, training history, size, speed and intervals."""

    test: TestResult
    history: dict[str, list]
    params: dict[str, int]
    latency_ms: float
    latency_ms_pcm: float
    intervals: dict[str, Any]
    paired: dict[str, Any]
    environment: dict[str, Any]
    #: ``{"operating_points": ..., "calibration": ...}`` (:mod:`cxr_paper.deploy.decisions`)
    decisions: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """The model's entry of ``metrics.json``."""
        return {
            "auroc": self.test.auroc,
            "localization": self.test.localization,
            "localization_images": self.test.box_images,
            "task": self.test.task.to_dict(),
            "cam_method_seconds": self.test.seconds,
            "params": self.params,
            "latency_ms": self.latency_ms,
            "latency_ms_pcm": self.latency_ms_pcm,
            "history": self.history,
            "intervals": self.intervals,
            "paired": self.paired,
            "environment": self.environment,
            **self.decisions,
        }

    def save(self, folder: Path) -> None:
        """Write ``result.npz``, then ``result.json`` (the file that says the model finished)."""
        arrays: dict[str, np.ndarray] = {}
        test = self.test
        tree = {
            "format": FORMAT,
            "history": self.history,
            "params": self.params,
            "latency_ms": self.latency_ms,
            "latency_ms_pcm": self.latency_ms_pcm,
            "intervals": self.intervals,
            "paired": self.paired,
            "environment": self.environment,
            "decisions": self.decisions,
            "test": {
                "auroc": test.auroc,
                "localization": test.localization,
                "labels": _to_ref(test.labels, "labels", arrays),
                "probs": _to_ref(test.probs, "probs", arrays),
                "box_images": test.box_images,
                "examples": _to_ref(test.examples, "examples", arrays),
                "viewer": _to_ref(test.viewer, "viewer", arrays),
                "skipped": test.skipped,
                "seconds": test.seconds,
                "image_names": test.image_names,
                "patients": test.patients,
                "task": test.task.to_dict(),
                "scores": {
                    kind: {
                        "seed": scores.seed,
                        "pointing_tolerance": scores.scorer.settings.pointing_tolerance,
                        "prob_threshold": scores.scorer.settings.prob_threshold,
                        "q": scores.scorer.settings.heatmap_threshold,
                        "box_frame": list(scores.box_frame),
                        "state": _to_ref(scores.state_dict(), f"scores/{kind}", arrays),
                    }
                    for kind, scores in test.scores.items()
                },
            },
        }
        atomic_write(folder / RESULT_ARRAYS, lambda path: np.savez_compressed(path, **arrays))
        write_json(tree, folder / RESULT_JSON)

    @classmethod
    def load(cls, folder: Path) -> ModelResult | None:
        """The saved result of the model in ``folder``, or ``None`` if it has not finished.

        A damaged or hand-edited result (a truncated or bit-flipped ``result.npz``, a
        ``result.json`` missing a key or holding a wrong type) is a :class:`RunError` naming the
        file; nothing in the folder is changed.
        """
        path = folder / RESULT_JSON
        if not path.is_file():
            return None
        try:
            tree = _nan_for_null(read_json(path))
            with np.load(folder / RESULT_ARRAYS, allow_pickle=False) as npz:
                arrays = dict(npz)
        except Exception as error:  # zipfile, zlib and numpy each raise their own kinds
            raise RunError(
                f"{folder}: its saved result cannot be read ({type(error).__name__}: "
                f"{_first_line(error)}); delete {RESULT_JSON} there to evaluate this model again."
            ) from None
        try:
            return cls._from_tree(tree, arrays, path)
        except TaskError as error:
            raise RunError(str(error)) from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise RunError(
                f"{path}: not a result this project wrote ({type(error).__name__}: "
                f"{_first_line(error)}); delete it to evaluate this model again."
            ) from None

    @classmethod
    def _from_tree(cls, tree: dict, arrays: dict[str, np.ndarray], path: Path) -> ModelResult:
        if not isinstance(tree, dict) or not isinstance(tree.get("test"), dict):
            raise KeyError("test")
        test = tree["test"]
        for key in NUMBER_FIELDS:
            _check_numbers(tree.get(key), key)
        for key in TEST_NUMBER_FIELDS:
            _check_numbers(test.get(key), f"test.{key}")
        _check_numbers(tree.get("decisions", {}), "decisions", text_keys=("rule",))
        scores = {}
        task = (
            Task.from_dict(test["task"], str(path))
            if "task" in test  # results written before the task was stored: NIH's
            else chestxray14(tuple(next(iter(test["scores"].values()))["box_frame"]))
        )
        for kind, saved in test["scores"].items():
            scores[kind] = LocalizationScores(
                task,
                seed=saved["seed"],
                pointing_tolerance=saved["pointing_tolerance"],
                prob_threshold=saved.get("prob_threshold", PAPER_PROTOCOL.prob_threshold),
                q=saved.get("q", PAPER_PROTOCOL.heatmap_threshold),
            )
            scores[kind].load_state_dict(_from_ref(saved["state"], arrays))
        examples = _from_ref(test["examples"], arrays)
        for example in examples.values():
            example["image"] = torch.from_numpy(example["image"])
        return cls(
            test=TestResult(
                auroc=test["auroc"],
                localization=test["localization"],
                labels=_from_ref(test["labels"], arrays),
                probs=_from_ref(test["probs"], arrays),
                box_images=test["box_images"],
                task=task,
                examples=examples,
                skipped=test["skipped"],
                seconds=test["seconds"],
                image_names=test["image_names"],
                patients=test["patients"],
                scores=scores,
                viewer=_viewer_records(_from_ref(test.get("viewer", {}), arrays)),
            ),
            **{key: tree[key] for key in ("history", "params", "intervals", "paired")},
            latency_ms=tree["latency_ms"],
            latency_ms_pcm=tree["latency_ms_pcm"],
            environment=tree["environment"],
            decisions=tree.get("decisions", {}),  # results written before operating points
        )


#: Fields whose every value is a number (``null`` read as NaN; booleans for flags).
NUMBER_FIELDS = ("history", "params", "latency_ms", "latency_ms_pcm", "intervals", "paired")
TEST_NUMBER_FIELDS = ("auroc", "localization", "box_images", "seconds")


def _check_numbers(value: Any, where: str, text_keys: tuple[str, ...] = ()) -> None:
    """Refuse (``TypeError`` naming the key) a leaf of ``value`` that is not a number, except
    under ``text_keys``, which hold strings."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in text_keys and isinstance(item, str | None):
                continue
            _check_numbers(item, f"{where}.{key}", text_keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, f"{where}[{index}]", text_keys)
    elif not isinstance(value, int | float):
        raise TypeError(f"{where} is {value!r}, not a number")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else repr(error)


def _to_ref(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` with every array (numpy or torch) moved into ``arrays`` and replaced by a
    reference to its key."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {_ARRAY: key}
    if isinstance(value, dict):
        return {str(k): _to_ref(v, f"{key}/{k}", arrays) for k, v in value.items()}
    return value


def _from_ref(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return arrays[value[_ARRAY]]
        return {k: _from_ref(v, arrays) for k, v in value.items()}
    return value


def _nan_for_null(value: Any) -> Any:
    """JSON's ``null`` back to the NaN it was written for (results hold no other ``None``)."""
    if value is None:
        return math.nan
    if isinstance(value, dict):
        return {k: _nan_for_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_for_null(v) for v in value]
    return value


def _viewer_records(viewer: dict[str, Any]) -> dict[str, Any]:
    """The viewer's records, with the map kinds of results written before they were called
    ``kinds`` (``variants``) under their current key."""
    for record in viewer.values():
        if isinstance(record, dict) and "variants" in record:
            record["kinds"] = record.pop("variants")
    return viewer
