"""Any classifier with per-class outputs, as the evaluation reads this project's models: logits in
ChestX-ray14's class order and class maps for the 8 box classes, from the Grad-CAM family at a
layer of the model (:mod:`cxr_paper.scoring.batched_cam`, all classes in one batched backward pass).

- ``timm:NAME``: ``timm.create_model(NAME, num_classes=14)``, maps at its last feature stage
  (``feature_info``), inputs normalised as its ``pretrained_cfg`` says.
- ``xrv:NAME``: a torchxrayvision ``DenseNet`` (``NAME`` its weights, e.g.
  ``densenet121-res224-nih``, or ``none`` for random ones), its outputs mapped from its own
  label order (``model.targets``) to ChestX-ray14's, one gray channel scaled to [-1024, 1024]
  as torchxrayvision expects, maps at ``model.features``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cxr14_data import IMAGENET_MEAN, IMAGENET_STD, denormalize
from cxr_paper.configuration.task import Task
from cxr_paper.errors import RunError
from cxr_paper.scoring.batched_cam import cams_and_logits
from multires_backbone import CAMOutput

Normalization = tuple[tuple[float, ...], tuple[float, ...]]


class ForeignModel(nn.Module):
    """``model(images) -> CAMOutput(logits (B, K), cams (B, K, h, w), features=cams)`` in the
    task's class order.

    Args:
        network: the classifier, ``network(x) -> (B, outputs)``.
        layer: the module whose activations the maps come from.
        method: one of :data:`cxr_paper.scoring.batched_cam.METHODS`.
        output_index: for each of the task's classes, its column of the network's output, or
            ``None`` when the network has no such output (its logit is 0 and it has no map).
        task: the data set's classes and box classes.
        to_input: turns the loader's normalised ``(B, 3, H, W)`` into the network's input.
    """

    def __init__(
        self,
        network: nn.Module,
        layer: nn.Module,
        method: str,
        output_index: list[int | None],
        task: Task,
        to_input: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
    ) -> None:
        super().__init__()
        self.network, self.layer, self.method = network, layer, method
        self.output_index, self.to_input, self.task = output_index, to_input, task
        self.missing = [c for c, i in zip(task.classes, output_index, strict=True) if i is None]
        lacking = [c for c in task.box_classes if c in self.missing]
        if lacking:
            raise RunError(f"the model has no output for the box classes {lacking}.")

    def forward(self, images: torch.Tensor) -> CAMOutput:
        x = self.to_input(images)
        classes = self.task.classes
        box = [self.output_index[i] for i in self.task.box_indices]
        maps, outputs = cams_and_logits(self.method, self.network, self.layer, x, box)
        logits = torch.zeros(len(images), len(classes), device=outputs.device)
        cams = torch.zeros(len(images), len(classes), *maps.shape[-2:], device=maps.device)
        for k, index in enumerate(self.output_index):
            if index is not None:
                logits[:, k] = outputs[:, index]
        for row, k in enumerate(self.task.box_indices):
            cams[:, k] = maps[:, row]
        return CAMOutput(logits, cams, cams)


@dataclass
class Loaded:
    """A model from another library, ready to score.

    Attributes:
        model: It, giving logits and maps in the task's class order.
        normalization: The ``(mean, std)`` its inputs expect, per channel.
        description: One line for the report naming the model, its weights and map layer.
    """

    model: ForeignModel
    normalization: Normalization
    description: str


def load_timm(name: str, method: str, weights: str | None, task: Task) -> Loaded:
    """A timm classifier with ``len(task.classes)`` outputs and maps at its last feature stage.

    Args:
        name: A timm model name.
        method: The map method (``"cam"`` or a name of ``batched_cam.METHODS``).
        weights: ``"timm"`` for timm's pretrained weights, a state-dict file, or ``None``/
            ``"none"`` for random ones.
        task: The classes the outputs stand for.

    Returns:
        The model, timm's normalization and a description.

    Raises:
        RunError: Unknown model or a file that is not its weights.
    """
    import timm

    try:
        network = timm.create_model(
            name, num_classes=len(task.classes), pretrained=weights == "timm"
        )
    except (RuntimeError, ValueError) as error:
        raise RunError(f"--model timm:{name}: {error}") from None
    if weights not in (None, "timm", "none"):
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            network.load_state_dict(state.get("state_dict", state))
        except Exception as error:  # pickle, zip and torch each raise their own kinds
            detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            raise RunError(
                f"--weights {weights}: not a weights file for timm:{name} "
                f"({type(error).__name__}{': ' + detail if detail else ''})."
            ) from None
    stage = network.feature_info[-1]["module"]
    config = timm.data.resolve_data_config({}, model=network)
    normalization = (tuple(config["mean"]), tuple(config["std"]))
    model = ForeignModel(
        network.eval(), network.get_submodule(stage), method, list(range(len(task.classes))), task
    )
    description = f"timm `{name}` ({weights or 'random'} weights), maps at `{stage}`"
    return Loaded(model, normalization, description)


def load_xrv(weights: str, method: str, task: Task) -> Loaded:
    """A torchxrayvision DenseNet whose outputs are mapped to ``task``'s classes.

    Args:
        weights: A torchxrayvision weights name (``"densenet121-res224-all"``) or ``"none"``.
        method: The map method.
        task: The classes to map its outputs to (classes it lacks give no output).

    Returns:
        The model, with inputs rescaled to torchxrayvision's ``[-1024, 1024]`` gray.

    Raises:
        RunError: torchxrayvision is not installed or the weights are unknown.
    """
    try:
        import torchxrayvision as xrv
    except ImportError:
        raise RunError(
            f"--model xrv:{weights} needs torchxrayvision: pip install torchxrayvision."
        ) from None

    try:
        network = xrv.models.DenseNet(weights=None if weights == "none" else weights).eval()
    except Exception as error:  # torchxrayvision raises bare Exceptions for unknown weights
        raise RunError(f"--model xrv:{weights}: {error}") from None
    targets = list(network.targets)
    index = [targets.index(c) if c in targets else None for c in task.classes]

    def to_input(images: torch.Tensor) -> torch.Tensor:
        gray = denormalize(images, IMAGENET_MEAN, IMAGENET_STD).mean(1, keepdim=True)
        return gray.clamp(0, 1) * 2048 - 1024

    model = ForeignModel(network, network.features, method, index, task, to_input)
    description = (
        f"torchxrayvision DenseNet ({weights} weights), its {len(targets)} outputs mapped to "
        f"{task.name}'s order, maps at `features`"
    )
    return Loaded(model, (IMAGENET_MEAN, IMAGENET_STD), description)


def load_foreign(spec: str, method: str, task: Task, weights: str | None = None) -> Loaded:
    """``timm:NAME`` or ``xrv:WEIGHTS`` (see the module's docstring), its outputs in ``task``'s
    class order.

    Args:
        spec: ``"timm:NAME"`` or ``"xrv:WEIGHTS"``.
        method: The map method.
        task: The classes its outputs are put in the order of.
        weights: For timm: ``"timm"``, a state-dict file or ``None``.

    Returns:
        The loaded model.

    Raises:
        RunError: ``spec`` has neither form.
    """
    kind, _, name = spec.partition(":")
    if kind == "timm" and name:
        return load_timm(name, method, weights, task)
    if kind == "xrv" and name:
        return load_xrv(name, method, task)
    raise RunError(
        f"--model {spec!r}: expected timm:NAME, xrv:WEIGHTS (or none), or a saved model "
        "(a run's model folder, a save_pretrained folder or a Hub id)."
    )
