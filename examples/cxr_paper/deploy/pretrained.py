"""A trained model to share: the classifier and its PCM as one ``huggingface_hub`` model.

``CXRLocalizer.save_pretrained(folder)`` writes ``model.safetensors`` (both modules' weights),
``config.json`` (everything that rebuilds the model and runs it as it was evaluated: architecture,
classes, input size, normalisation, LSE gamma, the PCM's input, the probability and heatmap
thresholds) and a model card (``README.md``: the training data, the run's metrics with their 95 %
intervals, the intended use and the limits). ``CXRLocalizer.from_pretrained(folder_or_hub_id)``
reads it back from a folder, or from the Hugging Face Hub by id (``push_to_hub`` uploads one);
loading is strict, so weights that do not fit the config are refused.

Kept apart from training and evaluation so that predicting imports neither.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin, hf_hub_download
from safetensors import SafetensorError
from torch import nn

from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.deploy.operating_points import Rule, check_thresholds
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import staged_folder
from cxr_paper.reporting.decisions_report import operating_table
from cxr_paper.reporting.document import Document, Table, make_table
from cxr_paper.reporting.markdown import kind_label, with_interval
from cxr_paper.scoring.headlines import Headline
from multires_backbone import create_model, resolve_config
from pcm_seam import PCM, refine

PRETRAINED_DIR = "pretrained"
WEIGHTS_FILE = "model.safetensors"
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

    Example:
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


class Prediction(NamedTuple):
    """``probs`` ``(B, K)``; ``cams`` ``(B, K, h, w)`` raw; ``refined`` ``(B, K, h, w)`` the
    PCM-refined class maps."""

    probs: torch.Tensor
    cams: torch.Tensor
    refined: torch.Tensor


class CXRLocalizer(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="cxr-wsl",
    license="apache-2.0",
    pipeline_tag="image-classification",
    tags=["chest-x-ray", "weakly-supervised-localization", "class-activation-maps", "seam"],
    model_card_template=CARD_TEMPLATE,
):
    """A trained CAM classifier and its PCM.

    Example:
        >>> import tempfile
        >>> model = CXRLocalizer("multires_resnet10t", ["Nodule", "Mass"], image_size=64)
        >>> folder = tempfile.mkdtemp()
        >>> model.save_pretrained(folder)
        >>> again = CXRLocalizer.from_pretrained(folder)
        >>> out = again(torch.randn(1, 3, 64, 64))
        >>> tuple(out.probs.shape), tuple(out.refined.shape)
        ((1, 2), (1, 2, 8, 8))
    """

    def __init__(
        self,
        architecture: str,
        classes: list[str],
        image_size: int = 256,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        gamma: float = 10.0,
        pcm_image_channels: int = 0,
        prob_threshold: float = PAPER_PROTOCOL.prob_threshold,
        heatmap_threshold: float = PAPER_PROTOCOL.heatmap_threshold,
        operating_points: dict[str, Any] | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        check_model_config(
            architecture=architecture,
            classes=classes,
            image_size=image_size,
            mean=mean,
            std=std,
            gamma=gamma,
            pcm_image_channels=pcm_image_channels,
            prob_threshold=prob_threshold,
            heatmap_threshold=heatmap_threshold,
            operating_points=operating_points,
            temperature=temperature,
        )
        self.architecture, self.classes = architecture, list(classes)
        self.image_size = int(image_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.gamma = float(gamma)
        self.prob_threshold, self.heatmap_threshold = prob_threshold, heatmap_threshold
        self.operating_points, self.temperature = operating_points, float(temperature)
        self.classifier = create_model(architecture, num_classes=len(classes), gamma=gamma)
        self.pcm = PCM(self.classifier.num_features, image_channels=pcm_image_channels)
        self.eval()

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.mean, self.std

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def decision_thresholds(self) -> dict[str, float]:
        """Per class, the probability above which it is predicted: its operating point chosen
        on validation (:mod:`cxr_paper.deploy.operating_points`) where the model has one, else the
        model's ``prob_threshold``."""
        return decision_thresholds(self.classes, self.prob_threshold, self.operating_points)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> Prediction:
        out = self.classifier(images)
        refined = refine(self.pcm, out.features, out.cams, images)
        return Prediction(torch.sigmoid(out.logits), out.cams, refined)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs: Any,
    ) -> CXRLocalizer:
        """The safetensors weights only (no pickle fallback), loaded strictly."""
        model = cls(**model_kwargs)
        if Path(model_id).is_dir():
            weights = str(Path(model_id) / WEIGHTS_FILE)
        else:
            weights = hf_hub_download(
                repo_id=model_id,
                filename=WEIGHTS_FILE,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        return cls._load_as_safetensor(model, weights, map_location, strict=True)

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card; ``save_pretrained(model_card_kwargs=...)`` gives it the run's
        ``metrics`` (a ``metrics.json`` entry), ``training_data``, ``synthetic`` (trained on the
        synthetic set) and ``where``."""
        parsed = resolve_config(self.architecture)
        backbone, multires = parsed.backbone, parsed.multires
        synthetic = bool(kwargs.get("synthetic", False))
        card_data = ModelCardData(
            license="apache-2.0",
            library_name="cxr-wsl",
            pipeline_tag="image-classification",
            tags=["chest-x-ray", "weakly-supervised-localization", "class-activation-maps", "seam"],
        )
        return ModelCard.from_template(
            card_data,
            template_str=CARD_TEMPLATE,
            architecture=self.architecture,
            kind="multi-resolution (CAMs at 1/8)" if multires else "standard (CAMs at 1/32)",
            backbone=backbone,
            gamma=self.gamma,
            image_size=self.image_size,
            heatmap_threshold=self.heatmap_threshold,
            prob_threshold=self.prob_threshold,
            where=kwargs.get("where", "path/to/this/folder"),
            training_data=kwargs.get("training_data", "Not recorded."),
            results=results_section(kwargs.get("metrics")).to_markdown().rstrip(),
            operating=operating_section(kwargs.get("metrics"), self.prob_threshold)
            .to_markdown()
            .rstrip(),
            data_limit=(
                "Trained on synthetic phantoms in NIH's format, not on radiographs: a "
                "demonstration of the pipeline, not a model of real chest X-rays."
                if synthetic
                else "Trained on NIH ChestX-ray14 (one hospital, adults, 1992-2015); performance "
                "elsewhere is unknown."
            ),
        )


def decision_thresholds(
    classes: Sequence[str], prob_threshold: float, operating_points: Mapping[str, Any] | None
) -> dict[str, float]:
    """``{class: threshold}``: the operating point's where given, ``prob_threshold`` elsewhere.

    Example:
        >>> decision_thresholds(["A", "B"], 0.5, {"rule": "youden", "thresholds": {"A": 0.2}})
        {'A': 0.2, 'B': 0.5}
    """
    chosen = (operating_points or {}).get("thresholds", {})
    return {c: float(chosen.get(c, prob_threshold)) for c in classes}


def results_section(metrics: Mapping[str, Any] | None) -> Document:
    """The card's results: :func:`results_table`, or that none were recorded."""
    table = results_table(metrics)
    return Document().add(table) if table else Document().paragraph("Not recorded.")


def results_table(metrics: Mapping[str, Any] | None) -> Table | None:
    """The headline numbers of a ``metrics.json`` entry with their intervals."""
    if not metrics or "intervals" not in metrics:
        return None
    intervals = metrics["intervals"]
    rows = [["mean AUROC, 14 classes", with_interval(intervals["auroc"].get("mean"))]]
    shown = (Headline.ACCURACY, Headline.AFP, Headline.MAX_BOX_ACC_V2, Headline.POINTING_GAME)
    for kind, headlines in intervals["localization"].items():
        for headline in shown:
            entry = headlines.get(headline, {}).get("mean")
            rows.append([f"{headline.label}, {kind_label(kind)}", with_interval(entry)])
    header = ["number (localization: mean over the box classes)", "estimate [95 % interval]"]
    return make_table(header, rows)


def operating_section(metrics: Mapping[str, Any] | None, prob_threshold: float) -> Document:
    """The card's operating points: the thresholds ``predict.py`` uses and the test
    sensitivity/specificity at them, with the calibration error."""
    if not metrics or "operating_points" not in metrics:
        return Document().paragraph(
            f"None chosen: a class is predicted above p = {prob_threshold}."
        )
    points = metrics["operating_points"]
    calibration = metrics["calibration"]
    scaled = calibration["after"]
    return (
        Document()
        .paragraph(
            f"Chosen per class on the validation split by `{points['rule']}` and used by "
            "`predict.py`; test sensitivity and specificity at them (95 % intervals, patients "
            "resampled):"
        )
        .add(operating_table(dict(metrics)))
        .paragraph(
            "Expected calibration error on the test split (15 bins, all classes pooled): "
            + with_interval(calibration["before"]["ece"]["all"])
            + (
                f"; after temperature scaling (T = {calibration['temperature']:.3f}, the "
                "probabilities `predict.py` reports): " + with_interval(scaled["ece"]["all"])
                if scaled
                else ""
            )
            + "."
        )
    )


def load_pretrained(where: str | Path, device: torch.device | str = "cpu") -> CXRLocalizer:
    """A saved model from a folder or a Hub id; a folder without one stops with one line."""
    folder = Path(where)
    if folder.exists() and not (folder / WEIGHTS_FILE).is_file():
        nested = folder / PRETRAINED_DIR
        if (nested / WEIGHTS_FILE).is_file():  # a run's model folder
            folder = nested
        else:
            raise RunError(f"--model {where}: no {WEIGHTS_FILE} there (a save_pretrained folder).")
    if not folder.exists() and looks_local(str(where)):
        raise RunError(
            f"--model {where}: no such folder (its parent {folder.parent} exists, so it is not "
            "taken for a Hugging Face Hub id)."
        )
    source = str(folder) if folder.exists() else str(where)
    try:
        model = CXRLocalizer.from_pretrained(source, map_location=str(device))
    except (OSError, ValueError, RuntimeError, TypeError, KeyError, SafetensorError) as error:
        detail = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
        kind = "" if folder.exists() else " as a Hugging Face Hub id"
        raise RunError(f"--model {where}: cannot load it{kind} ({detail}).") from None
    return model.to(device).eval()


def looks_local(where: str) -> bool:
    """A path rather than a Hub id (``user/name``): it starts like a path, or the folder it
    would sit in exists here (``runs/typo`` while ``runs/`` exists)."""
    if where.startswith(("/", "./", "../", "~")) or where.count("/") > 1 or "\\" in where:
        return True
    parent = Path(where).parent
    return str(parent) not in ("", ".") and parent.is_dir()


def save_run_model(
    model: nn.Module,
    pcm: PCM,
    folder: Path,
    *,
    architecture: str,
    classes: Sequence[str],
    image_size: int,
    normalization: tuple[Sequence[float], Sequence[float]],
    gamma: float,
    prob_threshold: float,
    heatmap_threshold: float,
    card: Mapping[str, Any],
    operating_points: dict[str, Any] | None = None,
    temperature: float = 1.0,
) -> Path:
    """Save a run's trained classifier and PCM as ``folder/pretrained`` (a ``save_pretrained``
    folder), replacing an earlier one only once the new one is complete."""
    mean, std = normalization
    localizer = CXRLocalizer(
        architecture,
        list(classes),
        image_size,
        mean,
        std,
        gamma,
        pcm.image_channels,
        prob_threshold,
        heatmap_threshold,
        operating_points,
        temperature,
    )
    localizer.classifier.load_state_dict(model.state_dict())
    localizer.pcm.load_state_dict(pcm.state_dict())
    target = folder / PRETRAINED_DIR
    with staged_folder(target) as staging:
        localizer.save_pretrained(staging, model_card_kwargs=dict(card))
    return target
