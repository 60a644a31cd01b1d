"""The classifiers of a run: each with its own weights, checked before any data is read."""

from __future__ import annotations

from cxr_paper.configuration.config import RunConfig
from cxr_paper.errors import RunError
from multires_backbone import (
    CAMClassifier,
    PretrainedWeightsError,
    apply_finetune_policy,
    create_model,
    resolve_config,
)


def build_model(name: str, config: RunConfig, num_classes: int) -> CAMClassifier:
    """The classifier of ``name`` with its own ``--pretrained`` weights and head dropout, with
    ``num_classes`` outputs (the data set's classes)."""
    model = create_model(
        name,
        num_classes=num_classes,
        pretrained=config.weights_for(name),
        gamma=config.lse_gamma,
        head_dropout=config.head_dropout_for(name),
    )
    if config.finetune_policy:
        apply_finetune_policy(model)
    return model


def check_weights(
    config: RunConfig, num_classes: int
) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Load every model's weights once, before any data or training: a file that does not fit
    its model, or weights that cannot be downloaded, stop the run now, naming model and file.

    Returns each model's input normalisation ``(mean, std)`` (that of its weights).
    """
    normalization = {}
    for name in config.models:
        try:
            normalization[name] = build_model(name, config, num_classes).normalization
        except (PretrainedWeightsError, OSError, RuntimeError) as error:
            raise RunError(
                f"--pretrained for {name} ({config.weights_for(name)}): {error}"
            ) from None
    return normalization


def standard_counterpart(model: str, models: list[str]) -> str | None:
    """The standard model a multi-resolution one is paired with among ``models``, if any.

    Examples:
        >>> standard_counterpart("multires_resnet10t", ["resnet10t", "multires_resnet10t"])
        'resnet10t'
        >>> standard_counterpart("resnet10t", ["resnet10t", "multires_resnet10t"]) is None
        True
    """
    parsed = resolve_config(model)
    if not parsed.multires:
        return None
    return parsed.backbone if parsed.backbone in models else None


def model_pairs(models: list[str]) -> list[tuple[str, str]]:
    """(MultiRes model, its standard model) for each such pair among ``models``."""
    return [
        (m, standard) for m in models if (standard := standard_counterpart(m, models)) is not None
    ]
