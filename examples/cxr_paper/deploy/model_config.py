"""A saved model's configuration as one type, :class:`SavedModelConfig`: what rebuilds the model
and runs it as it was evaluated. The PyTorch model (``config.json`` of a ``save_pretrained``
folder) and the ONNX export (its metadata) both write and read it; every value is checked before
a model is built from it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cxr14_data import IMAGENET_MEAN, IMAGENET_STD
from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.deploy.operating_points import Rule, check_thresholds
from multires_backbone import resolve_config

IMAGE_SIZE_RANGE = (32, 4096)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _known_architecture(name: Any) -> bool:
    try:
        resolve_config(name)
    except (ValueError, TypeError, AttributeError):
        return False
    return isinstance(name, str)


def check_model_config(**given: Any) -> None:
    """Refuse a saved model's ``config.json`` value that cannot work, naming the field
    (``ValueError``), before any weights are built or read.

    Args:
        **given: ``config.json`` fields (any subset of :class:`SavedModelConfig`'s).

    Raises:
        ValueError: Naming every bad field.

    Examples:
        >>> check_model_config(image_size=60000, std=[0, 0, 0])
        Traceback (most recent call last):
        ValueError: config.json: image_size 60000 is not an int in [32, 4096]; std [0, 0, 0] ...
    """
    low, high = IMAGE_SIZE_RANGE
    rules: dict[str, tuple[Callable[[Any], bool], str]] = {
        "architecture": (_known_architecture, "a model name of multires_backbone"),
        "classes": (
            lambda v: (
                isinstance(v, list | tuple)
                and bool(v)
                and all(isinstance(c, str) and c for c in v)
                and len(set(v)) == len(v)
            ),
            "a list of distinct names",
        ),
        "image_size": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high,
            f"an int in [{low}, {high}]",
        ),
        "mean": (
            lambda v: isinstance(v, list | tuple) and len(v) == 3 and all(map(_finite, v)),
            "3 finite numbers",
        ),
        "std": (
            lambda v: (
                isinstance(v, list | tuple) and len(v) == 3 and all(_finite(x) and x > 0 for x in v)
            ),
            "3 finite numbers > 0",
        ),
        "gamma": (lambda v: _finite(v) and v > 0, "a number > 0"),
        "pcm_image_channels": (lambda v: v in (0, 3), "0 or 3"),
        "prob_threshold": (lambda v: _finite(v) and 0 <= v <= 1, "a number in [0, 1]"),
        "heatmap_threshold": (lambda v: _finite(v) and 0 <= v <= 1, "a number in [0, 1]"),
        "operating_points": (
            lambda v: v is None or _operating_points_problem(v, given.get("classes")) is None,
            'null or {"rule": ..., "thresholds": {class: t in [0, 1]}}',
        ),
        "temperature": (lambda v: _finite(v) and v > 0, "a number > 0"),
    }
    wrong = [
        f"{name} {value!r:.60} is not {rules[name][1]}"
        for name, value in given.items()
        if not rules[name][0](value)
    ]
    if wrong:
        raise ValueError("config.json: " + "; ".join(wrong))


def _operating_points_problem(value: Any, classes: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("rule"), str):
        return "no rule"
    try:
        Rule.parse(value["rule"])
    except ValueError as error:
        return str(error)
    return check_thresholds(value.get("thresholds"), classes if isinstance(classes, list) else [])


@dataclass(frozen=True)
class SavedModelConfig:
    """A trained model's settings: the architecture and its classes, the input it expects
    (side, normalisation), the LSE pooling's gamma, the PCM's input, and the decision settings
    (probability threshold, per-class operating points, heatmap threshold Q, temperature).

    Attributes:
        architecture: A ``multires_backbone`` model name.
        classes: The class names, in output order.
        image_size: The input side in pixels.
        mean: Per-channel input mean.
        std: Per-channel input std (each > 0).
        gamma: LSE pooling's gamma.
        pcm_image_channels: Image channels the PCM embeds (0: features only).
        prob_threshold: The probability threshold of classes without an operating point.
        heatmap_threshold: ``Q``.
        operating_points: ``{"rule", "thresholds": {class: t}}`` or ``None``.
        temperature: Probabilities are ``sigmoid(logit / temperature)``.

    Examples:
        >>> config = SavedModelConfig("resnet10t", ["Mass", "Nodule"], image_size=64)
        >>> config.classes, config.to_json()["classes"]
        (('Mass', 'Nodule'), ['Mass', 'Nodule'])
        >>> SavedModelConfig.from_json(config.to_json()) == config
        True
        >>> SavedModelConfig("resnet10t", ["Mass"], image_size=8)
        Traceback (most recent call last):
        ValueError: config.json: image_size 8 is not an int in [32, 4096]
    """

    architecture: str
    classes: tuple[str, ...]
    image_size: int = 256
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    gamma: float = 10.0
    pcm_image_channels: int = 0
    prob_threshold: float = PAPER_PROTOCOL.prob_threshold
    heatmap_threshold: float = PAPER_PROTOCOL.heatmap_threshold
    operating_points: dict[str, Any] | None = None
    temperature: float = 1.0

    def __post_init__(self) -> None:
        check_model_config(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        for name in ("classes", "mean", "std"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "temperature", float(self.temperature))

    def to_json(self, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """The values as JSON (tuples as lists), without the fields in ``exclude``."""
        values = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in exclude
        }
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> SavedModelConfig:
        """The config of ``values`` (a ``config.json`` read back); an unknown or missing field
        is a ``ValueError`` naming it."""
        if not isinstance(values, Mapping):
            raise ValueError(f"config.json: expected an object, got {type(values).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"config.json: unknown fields {unknown}.")
        missing = [n for n in ("architecture", "classes") if n not in values]
        if missing:
            raise ValueError(f"config.json: lacks {missing}.")
        return cls(**values)
