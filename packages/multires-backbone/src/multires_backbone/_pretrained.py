"""Create a timm backbone with no weights, timm's ImageNet weights, or a local weights file."""

from __future__ import annotations

import os
from pathlib import Path

import timm
from timm.models import load_state_dict
from torch import nn

WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


class PretrainedWeightsError(RuntimeError):
    """Pretrained weights could not be obtained or loaded."""


def create_backbone(
    name: str, pretrained: bool | str | os.PathLike = False, in_chans: int = 3, **timm_kwargs
) -> nn.Module:
    """A timm model without classifier or global pooling (``num_classes=0, global_pool=""``).

    ``pretrained`` is ``False`` (random init), ``True`` (timm's ImageNet weights from the Hugging
    Face hub: needs internet) or a path to a local ``.pth``/``.pt``/``.bin``/``.safetensors``
    file holding that timm model's state dict (loaded through timm, so its key remapping and
    ``in_chans`` adaptation apply).
    """
    kwargs = dict(num_classes=0, global_pool="", in_chans=in_chans, **timm_kwargs)
    if pretrained is False or pretrained is None:
        return timm.create_model(name, pretrained=False, **kwargs)
    if pretrained is True:
        try:
            return timm.create_model(name, pretrained=True, **kwargs)
        except Exception as error:
            raise PretrainedWeightsError(
                f"Could not download timm's pretrained weights for {name!r} ({error}). Offline, "
                f"download them elsewhere and pass the local file instead: "
                f"create_model(..., pretrained='/path/to/{name}.safetensors')."
            ) from error
    path = Path(pretrained)
    if not path.is_file():
        raise FileNotFoundError(f"Pretrained weights file not found: {path}")
    if path.suffix not in WEIGHT_SUFFIXES:
        raise PretrainedWeightsError(
            f"Expected a weights file ending in one of {WEIGHT_SUFFIXES}, got {path}."
        )
    try:
        model = timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
        )
        file_keys = set(load_state_dict(str(path)))
    except (RuntimeError, KeyError, ValueError, OSError) as error:
        raise PretrainedWeightsError(
            f"Could not load {path} into timm model {name!r}: {error}"
        ) from error
    # timm loads non-strictly once the classifier is dropped: check that every weight was found.
    missing = sorted(
        key
        for key in model.state_dict()
        if key not in file_keys and not key.endswith("num_batches_tracked")
    )
    if missing:
        raise PretrainedWeightsError(
            f"{path} does not hold the weights of timm model {name!r}: {len(missing)} missing "
            f"keys such as {missing[:3]}."
        )
    return model
