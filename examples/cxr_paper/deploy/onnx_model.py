"""A saved model as one ONNX graph: probabilities, raw CAMs and PCM-refined maps from the image.

:func:`export_onnx` traces :class:`~cxr_paper.deploy.pretrained.CXRLocalizer` with
``torch.onnx.export(dynamo=True)`` (``torch.export``; the TorchScript exporter cannot take the
PCM's adaptive pooling at a symbolic batch size) at opset :data:`OPSET`. The graph has one input,
``images`` ``(B, 3, S, S)`` float32 normalised as the model's config says, and three outputs:
``probabilities`` ``(B, K)``, ``cams`` ``(B, K, h, w)`` and ``refined`` ``(B, K, h, w)``; ``B``
is symbolic (``batch``) unless a fixed batch size is asked for. The model's config (classes,
input size, normalisation, thresholds, operating points, temperature) travels inside the file as
the metadata entry :data:`CONFIG_KEY` (JSON), so the file alone runs ``predict.py``.

:class:`OnnxLocalizer` runs such a file in onnxruntime and answers like ``CXRLocalizer``.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cxr_paper.deploy.model_config import SavedModelConfig
from cxr_paper.deploy.pretrained import CXRLocalizer, Prediction, decision_thresholds
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_write
from multires_backbone import CAMOutput

#: ONNX opset of the exported graph (onnxruntime >= 1.14 runs it).
OPSET = 18
INPUT = "images"
OUTPUTS = ("probabilities", "cams", "refined")
CONFIG_KEY = "cxr_localizer_config"
#: The saved config's fields the ONNX file does not carry (the PCM is in the graph).
NOT_IN_ONNX = ("pcm_image_channels",)
#: The config entries the ONNX file carries (the weights are in the graph).
CONFIG_FIELDS = tuple(
    f.name for f in dataclasses.fields(SavedModelConfig) if f.name not in NOT_IN_ONNX
)


class _Outputs(nn.Module):
    """``CXRLocalizer`` with a tuple for its outputs (what the exporter names)."""

    def __init__(self, model: CXRLocalizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(images)
        return out.probs, out.cams, out.refined


def model_config(model: CXRLocalizer) -> dict[str, Any]:
    """What :data:`CONFIG_FIELDS` the model's ``config.json`` holds.

    Args:
        model: The loaded model.

    Returns:
        ``{field: value}``.
    """
    return model.saved_config.to_json(exclude=NOT_IN_ONNX)


def export_onnx(
    model: CXRLocalizer, path: str | Path, batch_size: int | None = None, opset: int = OPSET
) -> Path:
    """Write ``model`` as an ONNX graph (probabilities, CAMs and PCM-refined maps), atomically.

    Args:
        model: the saved model to export; its settings go into the file's metadata.
        path: the ``.onnx`` file.
        batch_size: a fixed batch size, or ``None`` for a symbolic one.
        opset: the ONNX opset.

    Returns:
        ``path``.

    Raises:
        ValueError: ``batch_size`` below 1.

    Examples:
        >>> import tempfile
        >>> model = CXRLocalizer("resnet10t", ["Nodule", "Mass"], image_size=64)
        >>> path = export_onnx(model, Path(tempfile.mkdtemp()) / "model.onnx")
        >>> onnx_model = OnnxLocalizer(path)
        >>> out = onnx_model(torch.randn(3, 3, 64, 64))
        >>> tuple(out.probs.shape), tuple(out.refined.shape), onnx_model.classes
        ((3, 2), (3, 2, 2, 2), ['Nodule', 'Mass'])
    """
    import onnx

    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size {batch_size}: expected None (dynamic) or an int >= 1.")
    model = model.eval().cpu()
    example = torch.randn(batch_size or 2, 3, model.image_size, model.image_size)
    dynamic = None if batch_size else ({0: torch.export.Dim("batch", min=1)},)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's advice about its own internals
        program = torch.onnx.export(
            _Outputs(model),
            (example,),
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_shapes=dynamic,
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = CONFIG_KEY, json.dumps(model_config(model))
    onnx.checker.check_model(proto)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: onnx.save_model(proto, str(temporary)))
    return path


class OnnxLocalizer:
    """An exported model in onnxruntime, answering as :class:`CXRLocalizer` does:
    ``model(images) -> Prediction`` (torch tensors on the CPU), with its ``classes``,
    ``image_size``, ``normalization``, thresholds, operating points and temperature.

    Args:
        path: the ``.onnx`` file :func:`export_onnx` wrote.
        providers: onnxruntime execution providers (default: the CPU's).
        threads: intra-op threads (default: onnxruntime's choice).
    """

    def __init__(
        self,
        path: str | Path,
        providers: list[str] | None = None,
        threads: int | None = None,
    ) -> None:
        import onnxruntime

        self.path = Path(path)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf kinds
            first = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
            raise RunError(
                f"{self.path}: not an ONNX model onnxruntime can run ({first})."
            ) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if CONFIG_KEY not in meta:
            raise RunError(
                f"{self.path}: no {CONFIG_KEY} metadata; export it with examples/export_onnx.py."
            )
        try:
            config = json.loads(meta[CONFIG_KEY])
            saved = SavedModelConfig.from_json({k: config[k] for k in CONFIG_FIELDS})
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise RunError(f"{self.path}: its {CONFIG_KEY} metadata is wrong ({error}).") from None
        names = [o.name for o in self.session.get_outputs()]
        if names != list(OUTPUTS) or [i.name for i in self.session.get_inputs()] != [INPUT]:
            raise RunError(f"{self.path}: expected input {INPUT!r} and outputs {list(OUTPUTS)}.")
        self.saved_config = saved
        self.architecture, self.classes = saved.architecture, list(saved.classes)
        self.image_size, self.mean, self.std = saved.image_size, saved.mean, saved.std
        self.prob_threshold = saved.prob_threshold
        self.heatmap_threshold = saved.heatmap_threshold
        self.operating_points = saved.operating_points
        self.temperature = saved.temperature
        self.batch_size = self.session.get_inputs()[0].shape[0]  # an int, or "batch"

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.mean, self.std

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def decision_thresholds(self) -> dict[str, float]:
        """As :meth:`CXRLocalizer.decision_thresholds`."""
        return decision_thresholds(self.classes, self.prob_threshold, self.operating_points)

    def __call__(self, images: torch.Tensor) -> Prediction:
        expected = (3, self.image_size, self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"{self.path.name}: expected images (B, {', '.join(map(str, expected))}), got "
                f"{tuple(images.shape)}."
            )
        array = np.ascontiguousarray(images.detach().float().cpu().numpy())
        if isinstance(self.batch_size, int) and len(array) != self.batch_size:
            outputs = [self._run(chunk) for chunk in self._fixed_batches(array)]
            merged = [np.concatenate(parts)[: len(array)] for parts in zip(*outputs, strict=True)]
        else:
            merged = self._run(array)
        return Prediction(*(torch.from_numpy(a) for a in merged))

    def _run(self, array: np.ndarray) -> list[np.ndarray]:
        return self.session.run(list(OUTPUTS), {INPUT: array})

    def _fixed_batches(self, array: np.ndarray) -> list[np.ndarray]:
        """``array`` cut into the graph's fixed batch size, the last one zero-padded."""
        size = self.batch_size
        padded = np.concatenate(
            [array, np.zeros((-len(array) % size, *array.shape[1:]), array.dtype)]
        )
        return [padded[i : i + size] for i in range(0, len(padded), size)]


class OnnxClassifier(nn.Module):
    """An exported model as the evaluation reads a classifier: ``model(images) ->
    CAMOutput(logits, cams, features)``, its ``features`` being the graph's PCM-refined maps
    (pass :class:`GraphRefinement` as the PCM). Logits are ``logit(p)`` of the graph's float32
    probabilities, so ``sigmoid`` gives them back.

    Args:
        exported: The loaded ONNX graph.
    """

    def __init__(self, exported: OnnxLocalizer) -> None:
        super().__init__()
        self.exported = exported

    def forward(self, images: torch.Tensor) -> CAMOutput:
        out = self.exported(images)
        return CAMOutput(torch.logit(out.probs.double()).float(), out.cams, out.refined)


class GraphRefinement(nn.Module):
    """The PCM of an :class:`OnnxClassifier`: the graph already refined the maps (they arrive as
    its ``features``); this hands them back through :func:`pcm_seam.refine` unchanged (an
    empty background channel first, which ``refine`` drops).

    Examples:
        >>> refined = torch.rand(2, 3, 4, 4)
        >>> out = GraphRefinement()(refined, pcm_input=refined)
        >>> tuple(out.shape), bool((out[:, 1:] == refined).all())
        ((2, 4, 4, 4), True)
    """

    def forward(
        self, features: torch.Tensor, pcm_input: torch.Tensor, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The maps with a zero background channel first.

        Args:
            features: The graph's refined maps, float ``(B, K, h, w)``.
            pcm_input: Unused (the graph refined the maps already).
            images: Unused.

        Returns:
            Float tensor ``(B, K + 1, h, w)``.
        """
        return torch.cat([torch.zeros_like(features[:, :1]), features], dim=1)
