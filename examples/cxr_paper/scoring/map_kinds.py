"""What a kind of map is: the method that made it and whether the PCM refined it, parsed from and
written to its key (``"cam"``, ``"pcm"``, ``"gradcam"``, ``"gradcam+pcm"``) in one place.

The keys are how results name map kinds on disk (``metrics.json``, ``result.json``, ``maps/``);
code that needs the method, the refinement or the label asks a :class:`MapKind` instead of
cutting the key apart.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The model's own class activation maps (the paper's); other methods are Grad-CAM-family names.
OWN_CAM = "cam"
REFINED_SUFFIX = "+pcm"


@dataclass(frozen=True)
class MapKind:
    """``method`` (``"cam"`` or a :data:`cxr_paper.scoring.batched_cam.METHODS` name) and
    ``refined``
    (passed through the PCM).

    Example:
        >>> MapKind("cam", True).key, MapKind("gradcam", True).key, MapKind.parse("pcm")
        ('pcm', 'gradcam+pcm', MapKind(method='cam', refined=True))
        >>> [MapKind.parse(k).label for k in ("cam", "pcm", "gradcam++", "hirescam+pcm")]
        ['CAM', 'CAM + PCM', 'gradcam++', 'hirescam + PCM']
    """

    method: str
    refined: bool = False

    @property
    def key(self) -> str:
        """How results name it: ``cam``/``pcm`` for the model's own CAM (Tables 2-3),
        ``<method>``/``<method>+pcm`` for the others."""
        if self.method == OWN_CAM:
            return "pcm" if self.refined else OWN_CAM
        return self.method + REFINED_SUFFIX if self.refined else self.method

    @property
    def label(self) -> str:
        """How tables and switches name it."""
        base = "CAM" if self.method == OWN_CAM else self.method
        return f"{base} + PCM" if self.refined else base

    @classmethod
    def parse(cls, key: str) -> MapKind:
        """The kind a :attr:`key` names."""
        if key == "pcm":
            return cls(OWN_CAM, True)
        if key.endswith(REFINED_SUFFIX):
            return cls(key[: -len(REFINED_SUFFIX)], True)
        return cls(key, False)
