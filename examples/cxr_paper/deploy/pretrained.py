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

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin, hf_hub_download
from safetensors import SafetensorError
from torch import nn

from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.deploy.model_card import CARD_TEMPLATE, model_card
from cxr_paper.deploy.model_config import SavedModelConfig
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import staged_folder
from multires_backbone import create_model
from pcm_seam import PCM, refine

PRETRAINED_DIR = "pretrained"
WEIGHTS_FILE = "model.safetensors"


class Prediction(NamedTuple):
    """``probs`` ``(B, K)``; ``cams`` ``(B, K, h, w)`` raw; ``refined`` ``(B, K, h, w)`` the
    PCM-refined class maps.

    Attributes:
        probs: Float tensor ``(B, K)`` in ``[0, 1]``.
        cams: Float tensor ``(B, K, h, w)``.
        refined: Float tensor ``(B, K, h, w)``.
    """

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
    """A trained CAM classifier and its PCM, saved and loaded with its settings
    (``save_pretrained`` / ``from_pretrained``: a folder or a Hugging Face Hub id).

    Args:
        architecture: a ``multires_backbone`` model name (``"multires_resnet50"``, ...).
        classes: the output classes, in order.
        image_size: the square input side the model was trained at.
        mean: the per-channel mean images are normalised with.
        std: the per-channel standard deviation.
        gamma: the LSE pooling's γ.
        pcm_image_channels: 3 when the PCM also reads the image, else 0.
        prob_threshold: a class is predicted above it (where no operating point is chosen).
        heatmap_threshold: Q, where refined heatmaps become boxes.
        operating_points: ``{"rule", "thresholds": {class: t}}`` chosen on validation, or
            ``None``.
        temperature: the calibration temperature fitted on validation; ``predict.py`` reports
            ``sigmoid(logit / T)`` beside the raw probabilities (the forward pass does not
            apply it).

    Calling it on ``(B, 3, image_size, image_size)`` normalised images gives a
    :class:`Prediction`: ``probs`` ``(B, K)``, ``cams`` and ``refined`` ``(B, K, h, w)``.

    Examples:
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
        #: every setting, checked (:class:`~cxr_paper.deploy.model_config.SavedModelConfig`)
        self.saved_config = config = SavedModelConfig(
            architecture,
            classes,
            image_size,
            mean,
            std,
            gamma,
            pcm_image_channels,
            prob_threshold,
            heatmap_threshold,
            operating_points,
            temperature,
        )
        self.architecture, self.classes = config.architecture, list(config.classes)
        self.image_size, self.mean, self.std = config.image_size, config.mean, config.std
        self.gamma = config.gamma
        self.prob_threshold, self.heatmap_threshold = prob_threshold, heatmap_threshold
        self.operating_points, self.temperature = operating_points, config.temperature
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
        """The model card (:func:`cxr_paper.deploy.model_card.model_card`);
        ``save_pretrained(model_card_kwargs=...)`` gives it the run's ``metrics``,
        ``training_data``, ``synthetic`` and ``where``."""
        return model_card(self, **kwargs)


def decision_thresholds(
    classes: Sequence[str], prob_threshold: float, operating_points: Mapping[str, Any] | None
) -> dict[str, float]:
    """``{class: threshold}``: the operating point's where given, ``prob_threshold`` elsewhere.

    Args:
        classes: The model's classes.
        prob_threshold: The fallback.
        operating_points: The saved operating points, or ``None``.

    Returns:
        Per class, its threshold.

    Examples:
        >>> decision_thresholds(["A", "B"], 0.5, {"rule": "youden", "thresholds": {"A": 0.2}})
        {'A': 0.2, 'B': 0.5}
    """
    chosen = (operating_points or {}).get("thresholds", {})
    return {c: float(chosen.get(c, prob_threshold)) for c in classes}


def load_pretrained(where: str | Path, device: torch.device | str = "cpu") -> CXRLocalizer:
    """A saved model from a folder or a Hugging Face Hub id.

    Args:
        where: a ``save_pretrained`` folder, a run's model folder (its ``pretrained/`` is read)
            or a Hub id.
        device: where to put it.

    Returns:
        The model in eval mode.

    Raises:
        RunError: one line naming ``where``: no weights there, no such folder, or a file that
            cannot be loaded.
    """
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
    would sit in exists here (``runs/typo`` while ``runs/`` exists).

    Args:
        where: What the user passed.

    Returns:
        Whether to read it as a path.
    """
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
    folder), replacing an earlier one only once the new one is complete.

    Args:
        model: The trained classifier.
        pcm: Its PCM.
        folder: The model's run folder.
        architecture: Its ``multires_backbone`` name.
        classes: The class names, in output order.
        image_size: The input side.
        normalization: ``(mean, std)`` per channel.
        gamma: LSE pooling's gamma.
        prob_threshold: The fallback probability threshold.
        heatmap_threshold: ``Q``.
        card: The model card's inputs (see :func:`~cxr_paper.deploy.model_card.model_card`).
        operating_points: Per-class thresholds, or ``None``.
        temperature: The fitted temperature.

    Returns:
        ``folder/pretrained``.
    """
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
