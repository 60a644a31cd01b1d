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
    ``num_classes`` outputs (the data set's classes).

    Args:
        name: A ``multires_backbone`` model name.
        config: The run's settings.
        num_classes: Outputs.

    Returns:
        The classifier.
    """
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

    Args:
        config: The run's settings.
        num_classes: Outputs.

    Returns:
        Per model, its ``(mean, std)``.

    Raises:
        RunError: Naming the model and the weights that do not load.
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

    Args:
        model: A model name.
        models: The run's models.

    Returns:
        The standard model's name, or ``None``.

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
    """(MultiRes model, its standard model) for each such pair among ``models``.

    Args:
        models: The run's models.

    Returns:
        The pairs, in ``models``' order.

    Examples:
        >>> model_pairs(["resnet10t", "multires_resnet10t", "resnet18"])
        [('multires_resnet10t', 'resnet10t')]
    """
    return [
        (m, standard) for m in models if (standard := standard_counterpart(m, models)) is not None
    ]
