"""A finished model's results: one typed object, saved beside its checkpoints as ``result.json``
(every number, readable by anything) and ``result.npz`` (its arrays; ``np.load`` without pickle),
and read back alike by the report, the figures, the seed study and ``--resume``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np
import torch

from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.configuration.task import chestxray14
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_write
from cxr_paper.files.jsonio import read_json, write_json
from cxr_paper.files.typed_json import from_json, to_json
from cxr_paper.scoring.comparisons import Comparison
from cxr_paper.scoring.decision_types import Decisions
from cxr_paper.scoring.interval_types import KindDifference, ModelDifference, ModelIntervals
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.model_metrics import History, ModelMetrics, Params
from cxr_paper.scoring.outcome import TestResult
from cxr_paper.scoring.scores import LocalizationScores

RESULT_JSON = "result.json"
RESULT_ARRAYS = "result.npz"
FORMAT = 1
_ARRAY = "__array__"


@dataclass
class ModelResult:
    """One model of a run: its test split, training history, size, speed, intervals, the
    differences of its map kinds and its decisions.

    Attributes:
        test: The test split's result.
        history: The training history.
        params: Parameter counts.
        latency_ms: Milliseconds per image, classifier alone.
        latency_ms_pcm: Milliseconds per image with the PCM.
        intervals: Patient-bootstrap intervals.
        paired: Each map kind minus the model's CAM.
        environment: The machine and library versions.
        decisions: Operating points and calibration.
    """

    test: TestResult
    history: History
    params: Params
    latency_ms: float
    latency_ms_pcm: float
    intervals: ModelIntervals
    #: each map kind minus the model's CAM (``"pcm - cam"``)
    paired: dict[Comparison, KindDifference]
    environment: dict[str, Any]
    decisions: Decisions = field(default_factory=Decisions)

    def metrics(self, others: dict[Comparison, ModelDifference] | None = None) -> ModelMetrics:
        """The model's entry of ``metrics.json`` (``others``: it against other models)."""
        return ModelMetrics(
            auroc=self.test.auroc,
            localization=self.test.localization,
            localization_images=self.test.box_images,
            task=self.test.task,
            cam_method_seconds=self.test.seconds,
            params=self.params,
            latency_ms=self.latency_ms,
            latency_ms_pcm=self.latency_ms_pcm,
            history=self.history,
            intervals=self.intervals,
            paired={**self.paired, **(others or {})},
            environment=self.environment,
            operating_points=self.decisions.operating_points,
            calibration=self.decisions.calibration,
        )

    def save(self, folder: Path) -> None:
        """Write ``result.npz``, then ``result.json`` (the file that says the model finished)."""
        arrays: dict[str, np.ndarray] = {}
        test = self.test
        tree = {
            "format": FORMAT,
            **{name: to_json(getattr(self, name)) for name in SAVED_FIELDS},
            "test": {
                **{name: to_json(getattr(test, name)) for name in SAVED_TEST_FIELDS},
                "labels": _to_ref(test.labels, "labels", arrays),
                "probs": _to_ref(test.probs, "probs", arrays),
                "examples": _to_ref(test.examples, "examples", arrays),
                "viewer": _to_ref(test.viewer, "viewer", arrays),
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
            tree = read_json(path)
            with np.load(folder / RESULT_ARRAYS, allow_pickle=False) as npz:
                arrays = dict(npz)
        except Exception as error:  # zipfile, zlib and numpy each raise their own kinds
            raise RunError(
                f"{folder}: its saved result cannot be read ({type(error).__name__}: "
                f"{_first_line(error)}); delete {RESULT_JSON} there to evaluate this model again."
            ) from None
        try:
            return cls._from_tree(tree, arrays)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise RunError(
                f"{path}: not a result this project wrote ({type(error).__name__}: "
                f"{_first_line(error)}); delete it to evaluate this model again."
            ) from None

    @classmethod
    def _from_tree(cls, tree: Any, arrays: dict[str, np.ndarray]) -> ModelResult:
        if not isinstance(tree, dict) or not isinstance(tree.get("test"), dict):
            raise KeyError("test")
        test = tree["test"]
        hints = get_type_hints(cls)
        numbers = {
            name: from_json(hints[name], tree[name], name)
            for name in SAVED_FIELDS
            if name in tree or name != "decisions"  # results written before operating points
        }
        test_hints = get_type_hints(TestResult)
        if "task" not in test:  # results written before the task was stored: NIH's
            frame = tuple(next(iter(test["scores"].values()))["box_frame"])
            test["task"] = chestxray14(frame).to_dict()
        test_numbers = {
            name: from_json(test_hints[name], test[name], f"test.{name}")
            for name in SAVED_TEST_FIELDS
        }
        task = test_numbers["task"]
        scores = {}
        for kind, saved in test["scores"].items():
            scores[MapKind.parse(kind)] = LocalizationScores(
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
                **test_numbers,
                labels=_from_ref(test["labels"], arrays),
                probs=_from_ref(test["probs"], arrays),
                examples=examples,
                scores=scores,
                viewer=_viewer_records(_from_ref(test.get("viewer", {}), arrays)),
            ),
            **numbers,
        )


#: The fields of a result, and of its test split, that ``result.json`` holds as they are (the
#: arrays of the rest go to ``result.npz``); each read back by its type
#: (:mod:`cxr_paper.files.typed_json`).
SAVED_FIELDS = (
    "history",
    "params",
    "latency_ms",
    "latency_ms_pcm",
    "intervals",
    "paired",
    "environment",
    "decisions",
)
SAVED_TEST_FIELDS = (
    "auroc",
    "localization",
    "box_images",
    "skipped",
    "seconds",
    "image_names",
    "patients",
    "task",
)


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


def _viewer_records(viewer: dict[str, Any]) -> dict[str, Any]:
    """The viewer's records, with the map kinds of results written before they were called
    ``kinds`` (``variants``) under their current key."""
    for record in viewer.values():
        if isinstance(record, dict) and "variants" in record:
            record["kinds"] = record.pop("variants")
    return viewer
