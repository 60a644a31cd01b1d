"""What a kind of map is: the method that made it and whether the PCM refined it, parsed from and
written to its key (``"cam"``, ``"pcm"``, ``"gradcam"``, ``"gradcam+pcm"``) in one place.

The keys are how results name map kinds on disk (``metrics.json``, ``result.json``, ``maps/``);
code that needs the method, the refinement or the label asks a :class:`MapKind` instead of
cutting the key apart.
"""

from __future__ import annotations

#: The model's own class activation maps (the paper's); other methods are Grad-CAM-family names.
OWN_CAM = "cam"
REFINED_SUFFIX = "+pcm"


class MapKind(str):
    """``method`` (``"cam"`` or a :data:`cxr_paper.scoring.batched_cam.METHODS` name) and
    ``refined`` (passed through the PCM). A kind *is* its key (a ``str``), so results keyed by
    kinds keep their text keys on disk and are looked up by either.

    Attributes:
        method: ``"cam"`` or a map method name.
        refined: Whether the maps passed through the PCM.

    Examples:
        >>> MapKind("cam", True).key, MapKind("gradcam", True).key, MapKind.parse("pcm")
        ('pcm', 'gradcam+pcm', MapKind('cam', refined=True))
        >>> [MapKind.parse(k).label for k in ("cam", "pcm", "gradcam++", "hirescam+pcm")]
        ['CAM', 'CAM + PCM', 'gradcam++', 'hirescam + PCM']
        >>> {MapKind("cam", True): 1}["pcm"]
        1
    """

    def __new__(cls, method: str, refined: bool = False) -> MapKind:
        if not isinstance(method, str) or not method or method == "pcm":
            raise ValueError(f"{method!r} is not a map method.")
        if method.endswith(REFINED_SUFFIX):
            raise ValueError(f"{method!r}: a method's name does not end in {REFINED_SUFFIX!r}.")
        if method == OWN_CAM:
            key = "pcm" if refined else OWN_CAM
        else:
            key = method + REFINED_SUFFIX if refined else method
        return super().__new__(cls, key)

    def __getnewargs__(self) -> tuple[str, bool]:  # type: ignore[override]  # pickling
        return self.method, self.refined

    def __repr__(self) -> str:
        return f"MapKind({self.method!r}, refined={self.refined})"

    @property
    def refined(self) -> bool:
        """Whether the PCM refined the maps."""
        return self == "pcm" or self.endswith(REFINED_SUFFIX)

    @property
    def method(self) -> str:
        """The method that made the maps."""
        return OWN_CAM if self == "pcm" else self.removesuffix(REFINED_SUFFIX)

    @property
    def key(self) -> str:
        """How results name it: ``cam``/``pcm`` for the model's own CAM (Tables 2-3),
        ``<method>``/``<method>+pcm`` for the others."""
        return str(self)

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
