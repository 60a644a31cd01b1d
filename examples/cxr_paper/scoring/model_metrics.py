"""One model's entry of ``metrics.json`` as a type, and the file itself: what the report, the
figures, the model card and the seed study read, never as a dict.

``metrics.json`` keeps its format: :func:`write_metrics` writes
``{model: entry}`` through :func:`~cxr_paper.files.typed_json.to_json`, :func:`read_metrics`
reads it back checked, every value, naming the first wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxr_paper.configuration.task import Task
from cxr_paper.errors import RunError
from cxr_paper.files.jsonio import read_json, write_json
from cxr_paper.files.typed_json import OMIT_NONE, FormatError, from_json, to_json
from cxr_paper.scoring.chexlocalize_protocol import CheXlocalizeScores
from cxr_paper.scoring.comparisons import Comparison
from cxr_paper.scoring.decision_types import Calibration, OperatingPoints
from cxr_paper.scoring.interval_types import KindDifference, ModelDifference, ModelIntervals
from cxr_paper.scoring.kind_scores import KindScores
from cxr_paper.scoring.map_kinds import MapKind

METRICS_JSON = "metrics.json"


@dataclass(frozen=True)
class Params:
    """Parameter counts: the model, with its PCM, and as the authors' configuration counts.

    Attributes:
        model: Trainable parameters of the classifier.
        model_with_pcm: Including its PCM.
        published_configuration: As the authors' configuration counts them.
    """

    model: int
    model_with_pcm: int
    published_configuration: int


@dataclass(frozen=True)
class NumberNoise:
    """One number's training noise, from a seed study: its sd across training seeds, the share
    of its variance that training contributes, and where a rerun is expected to fall.

    Attributes:
        training_sd: The sd across training seeds.
        training_share: Training's share of the variance, in ``[0, 1]``.
        rerun_range: ``(low, high)``: mean ± 1.96 training sd.
    """

    training_sd: float
    training_share: float
    rerun_range: tuple[float, float]


@dataclass(frozen=True)
class StudyFile:
    """The committed seed study the noise comes from, and how many runs it has.

    Attributes:
        file: The study's path, relative to the repository.
        runs: Finished runs in it.
    """

    file: str
    runs: int


@dataclass(frozen=True)
class NoiseNote:
    """What a model's intervals cover and, when a study measured these settings, each number's
    training noise (keys: :func:`cxr_paper.scoring.training_noise.flatten`).

    Attributes:
        intervals_cover: A sentence on what the intervals cover.
        study: The study the noise comes from, or ``None``.
        numbers: Per number key, its training noise (``None``: no study measured these settings).
    """

    intervals_cover: str
    study: StudyFile | None = None
    numbers: dict[str, NumberNoise] | None = field(default=None, metadata={OMIT_NONE: True})


#: Per epoch, each curve of the training (losses, validation AUROC, learning rate, skipped
#: batches), and the images the training skipped.
History = dict[str, list[int] | list[float] | list[str]]

#: Paired differences as ``metrics.json`` keeps them: map kinds against the model's CAM and the
#: model against its standard counterpart, under one key each (a :class:`Comparison`).
Paired = dict[Comparison, KindDifference | ModelDifference]


@dataclass(frozen=True)
class ModelMetrics:
    """Everything a run measured of one model, as ``metrics.json`` holds it.

    Attributes:
        auroc: Per class and ``"mean"``.
        localization: Per map kind, all its localization numbers.
        localization_images: Test images with boxes that were scored.
        task: The classes and box classes.
        cam_method_seconds: Per map method, seconds it took on the test split.
        params: Parameter counts.
        latency_ms: Milliseconds per image, classifier alone.
        latency_ms_pcm: Milliseconds per image with the PCM.
        history: The training history.
        intervals: Patient-bootstrap intervals.
        paired: Per comparison, the paired differences (map kinds and models).
        environment: The machine and library versions.
        operating_points: Per-class thresholds, when chosen.
        calibration: The calibration report, when measured.
        noise: What the intervals cover and the training noise, when known.
    """

    auroc: dict[str, float]
    localization: dict[MapKind, KindScores]
    localization_images: int
    task: Task
    cam_method_seconds: dict[str, float]
    params: Params
    latency_ms: float
    latency_ms_pcm: float
    history: History
    intervals: ModelIntervals
    #: per comparison: a :data:`KindDifference` (``across_maps``) or a :class:`ModelDifference`
    paired: Paired
    environment: dict[str, Any]
    operating_points: OperatingPoints | None = field(default=None, metadata={OMIT_NONE: True})
    calibration: Calibration | None = field(default=None, metadata={OMIT_NONE: True})
    noise: NoiseNote | None = field(default=None, metadata={OMIT_NONE: True})

    def __post_init__(self) -> None:
        for comparison, body in self.paired.items():
            if comparison.across_maps != (not isinstance(body, ModelDifference)):
                raise ValueError(f"paired[{comparison!r}] is not the difference its key names")

    def kind_differences(self) -> dict[Comparison, KindDifference]:
        """The map kinds against the model's own CAM (``"pcm - cam"``)."""
        return {c: d for c, d in self.paired.items() if not isinstance(d, ModelDifference)}

    def model_differences(self) -> dict[Comparison, ModelDifference]:
        """The model against other models of the run (``"<model> - <standard>"``)."""
        return {c: d for c, d in self.paired.items() if isinstance(d, ModelDifference)}


def write_metrics(metrics: dict[str, ModelMetrics], path: Path) -> Path:
    """Write ``metrics.json`` atomically, NaN as ``null``.

    Args:
        metrics: per model name, its entry.
        path: the file to write.

    Returns:
        ``path``.
    """
    return write_json(to_json(metrics), path)


def read_metrics(path: Path) -> dict[str, ModelMetrics]:
    """A ``metrics.json`` this project wrote, every value checked.

    Args:
        path: the run's ``metrics.json``.

    Returns:
        Per model name, its entry.

    Raises:
        RunError: naming the file and the first missing, unknown or wrong value.

    Examples:
        >>> run = Path(__file__).parents[2] / "tests" / "data" / "run_before_types"  # a smoke run
        >>> entry = read_metrics(run / "metrics.json")["multires_resnet10t"]
        >>> entry.kind_differences()["pcm - cam"]["accuracy"].excludes_zero in (True, False)
        True
    """
    try:
        return from_json(dict[str, ModelMetrics], read_json(path), "metrics")
    except (FormatError, ValueError) as error:
        raise RunError(f"{path}: {error}") from None


@dataclass(frozen=True)
class ModelScore:
    """What ``score_model.py`` measured of a trained model on a data set's boxes
    (``score.json``): the model, the data, AUROC, localization and their intervals.

    Attributes:
        model: The model scored (a path, a Hub id or ``timm:NAME``).
        description: One line on it.
        data: The data set scored on.
        image_size: The input size in pixels.
        missing_classes: Box classes the model has no output for.
        auroc: Per class and ``"mean"``.
        localization: Per map kind, its localization numbers.
        localization_images: Box images scored.
        task: The classes scored.
        intervals: Patient-bootstrap intervals.
        intervals_cover: A sentence on what they cover.
        unscored_classes: The data's classes with no counterpart among the model's (a model
            of another set's classes); not scored.
        scored_as: Data class -> the model's classes it was scored as (the maximum of them),
            where not the same class.
        cautions: What may bias the numbers (e.g. a model that may have trained on these
            images).
        chexlocalize: Per map kind, CheXlocalize's protocol (scored on CheXlocalize).
    """

    model: str
    description: str
    data: str
    image_size: int
    #: the task's classes the model has no output for (scored with logit 0)
    missing_classes: list[str]
    auroc: dict[str, float]
    localization: dict[MapKind, KindScores]
    localization_images: int
    task: Task
    intervals: ModelIntervals
    intervals_cover: str
    unscored_classes: list[str] = field(default_factory=list)
    scored_as: dict[str, list[str]] = field(default_factory=dict)
    cautions: list[str] = field(default_factory=list)
    chexlocalize: dict[MapKind, CheXlocalizeScores] = field(default_factory=dict)
