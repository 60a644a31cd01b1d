"""A model of one data set's classes scored on another's labels and annotations: each of the
data's classes takes the model's output of its counterpart in the cross-set vocabulary
(:func:`cxr14_data.layouts.counterparts`); where the counterpart is several classes (NIH's Nodule
and Mass for VinDr's Nodule/Mass) or a narrower or broader one, the maximum of their logits and
of their maps (so the probability of "any of them"), and the report says which classes were
scored that way; the data's classes without a counterpart are not scored, and listed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cxr14_data.layouts import counterparts, vocabulary_set
from cxr_paper.errors import RunError
from multires_backbone import CAMOutput


@dataclass(frozen=True)
class ClassMapping:
    """How a model's outputs stand for a data set's classes.

    Attributes:
        classes: The data's classes scored, in the data's order.
        sources: Per scored class, the model's output indices it takes the maximum of.
        near: Data class -> the model classes it is scored as, where not one to one.
        unscored: The data's classes without a counterpart among the model's.
        model_set: The vocabulary set of the model's classes (``None``: none names them all).
            data_set: The vocabulary set of the data's classes.
    """

    classes: tuple[str, ...]
    sources: tuple[tuple[int, ...], ...]
    near: dict[str, tuple[str, ...]]
    unscored: tuple[str, ...]
    model_set: str | None
    data_set: str

    @classmethod
    def between(
        cls, model_classes: Sequence[str], data_classes: Sequence[str], data_set: str
    ) -> ClassMapping:
        """The mapping from a model's classes to a data set's.

        Args:
            model_classes: The model's classes, in output order.
            data_classes: The data's classes, in label order.
            data_set: The data's vocabulary set (``"nih"``, ``"vindr"``, ...).

        Returns:
            The mapping.

        Raises:
            RunError: None of the data's classes has a counterpart.

        Examples:
            >>> from cxr14_data.labels import CLASSES
            >>> from cxr14_data.layouts import VINDR_CLASSES
            >>> mapping = ClassMapping.between(CLASSES, VINDR_CLASSES, "vindr")
            >>> mapping.near["Nodule/Mass"], "Aortic enlargement" in mapping.unscored
            (('Nodule', 'Mass'), True)
        """
        model_set = vocabulary_set(model_classes)
        found = counterparts(model_set, data_set) if model_set else None
        index = {name: k for k, name in enumerate(model_classes)}
        kept, sources, near = [], [], {}
        for name in data_classes:
            parts: tuple[str, ...] = ()
            if name in index:  # the same name: the same class
                parts = (name,)
            elif found is not None and found.pairs.get(name) in index:
                parts = (found.pairs[name],)
            elif found is not None and name in found.near:
                parts = tuple(p for p in found.near[name][0] if p in index)
                if parts:
                    near[name] = parts
            if parts:
                kept.append(name)
                sources.append(tuple(index[p] for p in parts))
        if not kept:
            raise RunError(
                f"none of the data's classes {list(data_classes)} has a counterpart among the "
                f"model's {list(model_classes)}."
            )
        unscored = tuple(c for c in data_classes if c not in kept)
        return cls(tuple(kept), tuple(sources), near, unscored, model_set, data_set)

    @property
    def identity(self) -> bool:
        """Whether every output is its own class, in order."""
        return (
            not self.unscored
            and not self.near
            and all(s == (k,) for k, s in enumerate(self.sources))
        )


class MappedClassifier(nn.Module):
    """``model(images)`` with logits and class maps in the mapping's classes (the maximum over
    each class's sources), the features unchanged for the PCM.

    Args:
        model: A classifier returning ``CAMOutput`` with logits ``(B, K)`` and cams
            ``(B, K, h, w)``.
        mapping: Its outputs' counterparts among the data's classes.
        maps_in_features: The features are class maps too (an exported graph's refined
            maps): map them as the cams.

    Examples:
        >>> from types import SimpleNamespace
        >>> class Two(nn.Module):
        ...     def forward(self, x):
        ...         return CAMOutput(torch.tensor([[1.0, 3.0]]), torch.ones(1, 2, 2, 2), x)
        >>> mapping = SimpleNamespace(sources=((1,), (0, 1)))
        >>> MappedClassifier(Two(), mapping)(torch.zeros(1)).logits.tolist()
        [[3.0, 3.0]]
    """

    def __init__(
        self, model: nn.Module, mapping: ClassMapping, maps_in_features: bool = False
    ) -> None:
        super().__init__()
        self.model, self.sources, self.maps_in_features = model, mapping.sources, maps_in_features

    def _mapped(self, values: torch.Tensor) -> torch.Tensor:
        return torch.stack([values[:, list(s)].amax(dim=1) for s in self.sources], dim=1)

    def forward(self, images: torch.Tensor) -> CAMOutput:
        out = self.model(images)
        features = self._mapped(out.features) if self.maps_in_features else out.features
        return CAMOutput(self._mapped(out.logits), self._mapped(out.cams), features)
