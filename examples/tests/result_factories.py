"""Small, valid result objects for tests of what reads them (reports, noise, the codec): every
field a real run fills, with made-up numbers, overridable by keyword."""

from __future__ import annotations

from typing import Any

from cxr_paper.configuration.task import Task
from cxr_paper.scoring.interval_types import Difference, Interval, ModelIntervals
from cxr_paper.scoring.kind_scores import FixedNumbers, KindScores
from cxr_paper.scoring.model_metrics import ModelMetrics, Params

TASK = Task("toy", ("A", "B"), ("B",), (64, 64))


def interval(value: float, half_width: float = 0.02) -> Interval:
    return Interval(value, value - half_width, value + half_width, 0.95, 1000)


def difference(value: float, half_width: float = 0.02) -> Difference:
    return Difference(
        value, value - half_width, value + half_width, 0.95, 1000, abs(value) > half_width
    )


def kind_scores(accuracy: float = 0.5, afp: float = 1.0) -> KindScores:
    fixed = {name: FixedNumbers(accuracy, afp) for name in (*TASK.box_classes, "mean")}
    return KindScores(iobb={"0.1": fixed})


def model_metrics(**fields: Any) -> ModelMetrics:
    values: dict[str, Any] = dict(
        auroc={"A": 0.8, "B": 0.7, "mean": 0.75},
        localization={"cam": kind_scores()},
        localization_images=10,
        task=TASK,
        cam_method_seconds={"cam": 1.0},
        params=Params(100, 120, 130),
        latency_ms=1.0,
        latency_ms_pcm=2.0,
        history={"train_loss": [1.0]},
        intervals=ModelIntervals({"mean": interval(0.75)}),
        paired={},
        environment={},
    )
    values.update(fields)
    return ModelMetrics(**values)
