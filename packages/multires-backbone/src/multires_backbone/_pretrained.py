"""Create a timm backbone with no weights, timm's or torchvision's ImageNet weights, or a file.

D'Souza et al. (2022) start from **torchvision's** ImageNet weights (the authors' code calls
``torchvision.models.resnet50(pretrained=True)`` and ``efficientnet_b4(pretrained=True)``), which
are not timm's default tags. ``pretrained="torchvision"`` loads them: through timm's ``tv_in1k``
tag where timm has one (ResNet50), else from torchvision's ``IMAGENET1K_V1`` weights ported into
the timm model tensor by tensor (EfficientNet-B4: the same layers in the same order and shapes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import timm
import torch
from timm.models import load_state_dict
from torch import nn

WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
#: Prefixes of classification heads in timm and torchvision state dicts (dropped on load).
HEAD_PREFIXES = ("fc.", "classifier.", "head.", "last_linear.")
TORCHVISION_WEIGHTS = "IMAGENET1K_V1"
PretrainedSpec = bool | Literal["none", "timm", "torchvision"] | str | os.PathLike | None


class PretrainedWeightsError(RuntimeError):
    """Pretrained weights could not be obtained or loaded."""


def port_state_dict(
    source: Mapping[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """Map another implementation's state dict onto ``model``'s keys, tensor by tensor in order.

    Classification-head tensors (:data:`HEAD_PREFIXES`) are dropped first; the rest must match
    ``model.state_dict()`` one to one in order and shape, else a :class:`PretrainedWeightsError`
    names the first tensor that differs. Used for torchvision -> timm (same layers, other names).

    Examples:
        >>> import torchvision
        >>> timm_model = timm.create_model("efficientnet_b0", num_classes=0, global_pool="")
        >>> tv_state = torchvision.models.efficientnet_b0().state_dict()
        >>> ported = port_state_dict(tv_state, timm_model)
        >>> timm_model.load_state_dict(ported)
        <All keys matched successfully>
    """
    target = model.state_dict()
    tensors = [(k, v) for k, v in source.items() if not k.startswith(HEAD_PREFIXES)]
    if len(tensors) != len(target):
        raise PretrainedWeightsError(
            f"Cannot port: the weights hold {len(tensors)} tensors (heads dropped), the model "
            f"{len(target)}."
        )
    ported = {}
    for (src_key, value), (key, expected) in zip(tensors, target.items(), strict=True):
        if value.shape != expected.shape:
            raise PretrainedWeightsError(
                f"Cannot port: {src_key} {tuple(value.shape)} would go to {key} "
                f"{tuple(expected.shape)}."
            )
        ported[key] = value
    return ported


def _from_torchvision(name: str, kwargs: dict) -> nn.Module:
    tagged = f"{name}.tv_in1k"
    if timm.list_pretrained(tagged):
        return _download(tagged, kwargs)
    import torchvision  # a dependency of timm; imported only here

    try:
        tv_model = torchvision.models.get_model(name, weights=TORCHVISION_WEIGHTS)
    except ValueError as error:  # no such torchvision model or weights
        raise PretrainedWeightsError(
            f"No torchvision ImageNet weights for {name!r} ({error}); use 'timm' or a file."
        ) from error
    except Exception as error:  # offline: torch.hub's download error
        raise PretrainedWeightsError(
            f"Could not download torchvision's {TORCHVISION_WEIGHTS} weights for {name!r} "
            f"({error}). Offline, download them elsewhere (torchvision.models.get_model("
            f"{name!r}, weights={TORCHVISION_WEIGHTS!r})) and pass the saved .pth file."
        ) from error
    model = timm.create_model(name, pretrained=False, **kwargs)
    model.load_state_dict(port_state_dict(tv_model.state_dict(), model))
    return model


def _download(name: str, kwargs: dict) -> nn.Module:
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as error:
        raise PretrainedWeightsError(
            f"Could not download timm's pretrained weights for {name!r} ({error}). Offline, "
            f"download them elsewhere and pass the local file instead: "
            f"create_model(..., pretrained='/path/to/{name.split('.')[0]}.safetensors')."
        ) from error


def _from_file(name: str, path: Path, kwargs: dict) -> nn.Module:
    if not path.is_file():
        raise FileNotFoundError(f"Pretrained weights file not found: {path}")
    if path.suffix not in WEIGHT_SUFFIXES:
        raise PretrainedWeightsError(
            f"Expected a weights file ending in one of {WEIGHT_SUFFIXES}, got {path}."
        )
    try:
        state = load_state_dict(str(path))
    except (RuntimeError, KeyError, ValueError, OSError, EOFError) as error:
        raise PretrainedWeightsError(f"{path} is not a readable weights file: {error}") from error
    model = timm.create_model(name, pretrained=False, **kwargs)
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if expected <= set(state):
        try:  # through timm, so its key remapping and in_chans adaptation apply
            return timm.create_model(
                name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
            )
        except (RuntimeError, KeyError, ValueError, OSError) as error:
            raise PretrainedWeightsError(
                f"Could not load {path} into timm model {name!r}: {error}"
            ) from error
    try:  # a torchvision file (other key names, same layers)
        model.load_state_dict(port_state_dict(state, model))
    except PretrainedWeightsError as error:
        missing = sorted(expected - set(state))
        raise PretrainedWeightsError(
            f"{path} does not hold the weights of timm model {name!r}: {len(missing)} missing "
            f"keys such as {missing[:3]}, and it is not a torchvision state dict of the same "
            f"layers either ({error})."
        ) from None
    return model


def create_backbone(
    name: str, pretrained: PretrainedSpec = False, in_chans: int = 3, **timm_kwargs
) -> nn.Module:
    """A timm model without classifier or global pooling (``num_classes=0, global_pool=""``).

    ``pretrained`` is one of:

    - ``False`` / ``None`` / ``"none"``: random initialisation;
    - ``True`` / ``"timm"``: timm's default ImageNet weights (Hugging Face hub: needs internet);
    - ``"torchvision"``: torchvision's ImageNet weights, as the paper's authors used (needs
      internet; see the module docstring);
    - a path to a local ``.pth``/``.pt``/``.bin``/``.safetensors`` file holding the timm model's
      state dict, or torchvision's state dict of the same architecture (ported by order).

    The weights' preprocessing (``mean``, ``std``) is in ``model.pretrained_cfg``.
    """
    kwargs = dict(num_classes=0, global_pool="", in_chans=in_chans, **timm_kwargs)
    if pretrained is False or pretrained is None or pretrained == "none":
        return timm.create_model(name, pretrained=False, **kwargs)
    if pretrained is True or pretrained == "timm":
        return _download(name, kwargs)
    if pretrained == "torchvision":
        if in_chans != 3:
            raise PretrainedWeightsError("pretrained='torchvision' needs in_chans=3.")
        return _from_torchvision(name, kwargs)
    return _from_file(name, Path(pretrained), kwargs)
