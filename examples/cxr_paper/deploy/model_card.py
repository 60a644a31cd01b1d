"""The model card a saved model carries (``README.md`` of a ``save_pretrained`` folder): what
it is, how to run it, the training data, the run's numbers with their intervals, the operating
points and the limits of its use."""

from __future__ import annotations

from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from cxr_paper.reporting.decisions_report import operating_table
from cxr_paper.reporting.document import Document
from cxr_paper.reporting.headline_table import results_section
from cxr_paper.reporting.markdown import with_interval
from cxr_paper.scoring.decision_types import ALL_CLASSES
from cxr_paper.scoring.model_metrics import ModelMetrics
from multires_backbone import resolve_config

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ architecture }}: chest X-ray classification and weakly supervised localization

A {{ kind }} CAM classifier (timm `{{ backbone }}`, Log-Sum-Exp pooling, γ = {{ gamma }}) over
the 14 ChestX-ray14 findings, with a Pixel Correlation Module trained by SEAM that refines its class
activation maps; boxes come from the refined maps thresholded at Q = {{ heatmap_threshold }} for
classes predicted above p = {{ prob_threshold }}. It reproduces D'Souza, Reddy & Manjunath,
"Localization of lung abnormalities on chest X-rays using self-supervised equivariant attention",
Biomed. Eng. Lett. 2022.

```python
from cxr_paper.deploy.pretrained import CXRLocalizer
model = CXRLocalizer.from_pretrained("{{ where }}")  # a folder or a Hub id
# images: (B, 3, {{ image_size }}, {{ image_size }}), normalised with the config's mean and std
prediction = model(images)  # probabilities, CAMs, PCM-refined maps
```

or `python examples/predict.py scan.png --model {{ where }} --out predictions`.

## Training data

{{ training_data }}

## Results on its test split (95 % intervals, patients resampled)

{{ results }}

## Operating points

{{ operating }}

## Intended use

Research on weakly supervised localization of chest X-ray findings: comparing methods, studying
where class activation maps fail. **Not a medical device**: it has not been validated for any
clinical decision, on any population, and must not be used for one.

## Limits

- {{ data_limit }}
- ChestX-ray14's labels were mined from radiology reports by NLP and are noisy; its boxes cover 8
  of the 14 classes on 880 test images, so localization numbers rest on few boxes per class.
- Inputs are single frontal (PA/AP) radiographs at {{ image_size }} px; other views, paediatric
  images and other scanners are outside what it was trained on.
"""


#: The input sizes a saved model may declare: the backbones' minimum, and 8x the paper's 512.


def model_card(model: Any, **kwargs: Any) -> ModelCard:
    """The card of a :class:`~cxr_paper.deploy.pretrained.CXRLocalizer`: its architecture and
    thresholds, and from ``kwargs`` the run's ``metrics`` (a ``metrics.json`` entry),
    ``training_data``, ``synthetic`` (trained on the synthetic set) and ``where``.

    Args:
        model: The model.
        **kwargs: ``metrics``, ``training_data``, ``synthetic``, ``where`` as above.

    Returns:
        A ``huggingface_hub.ModelCard``.
    """
    parsed = resolve_config(model.architecture)
    backbone, multires = parsed.backbone, parsed.multires
    synthetic = bool(kwargs.get("synthetic", False))
    metrics: ModelMetrics | None = kwargs.get("metrics")
    card_data = ModelCardData(
        license="apache-2.0",
        library_name="cxr-wsl",
        pipeline_tag="image-classification",
        tags=["chest-x-ray", "weakly-supervised-localization", "class-activation-maps", "seam"],
    )
    return ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        architecture=model.architecture,
        kind="multi-resolution (CAMs at 1/8)" if multires else "standard (CAMs at 1/32)",
        backbone=backbone,
        gamma=model.gamma,
        image_size=model.image_size,
        heatmap_threshold=model.heatmap_threshold,
        prob_threshold=model.prob_threshold,
        where=kwargs.get("where", "path/to/this/folder"),
        training_data=kwargs.get("training_data", "Not recorded."),
        results=results_section(metrics and metrics.intervals).to_markdown().rstrip(),
        operating=operating_section(metrics, model.prob_threshold).to_markdown().rstrip(),
        data_limit=(
            "Trained on synthetic phantoms in NIH's format, not on radiographs: a "
            "demonstration of the pipeline, not a model of real chest X-rays."
            if synthetic
            else "Trained on NIH ChestX-ray14 (one hospital, adults, 1992-2015); performance "
            "elsewhere is unknown."
        ),
    )


def operating_section(metrics: ModelMetrics | None, prob_threshold: float) -> Document:
    """The card's operating points: the thresholds ``predict.py`` uses and the test
    sensitivity/specificity at them, with the calibration error.

    Args:
        metrics: The run's entry, or ``None`` (thresholds only).
        prob_threshold: The fallback threshold.

    Returns:
        The section.
    """
    if metrics is None or metrics.operating_points is None:
        return Document().paragraph(
            f"None chosen: a class is predicted above p = {prob_threshold}."
        )
    points = metrics.operating_points
    doc = Document().paragraph(
        f"Chosen per class on the validation split by `{points.rule}` and used by "
        "`predict.py`; test sensitivity and specificity at them (95 % intervals, patients "
        "resampled):"
    )
    doc.add(operating_table(points))
    calibration = metrics.calibration
    if calibration is None:
        return doc
    scaled = calibration.after
    return doc.paragraph(
        "Expected calibration error on the test split (15 bins, all classes pooled): "
        + with_interval(calibration.before.ece[ALL_CLASSES])
        + (
            f"; after temperature scaling (T = {calibration.temperature:.3f}, the "
            "probabilities `predict.py` reports): " + with_interval(scaled.ece[ALL_CLASSES])
            if scaled
            else ""
        )
        + "."
    )
