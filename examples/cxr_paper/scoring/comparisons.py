"""A paired difference as a type: ``minuend`` minus ``subtrahend`` on the same test images, either
two models of a run (MultiRes − standard) or a map kind against the model's own CAM
(CAM + PCM − CAM), with its key in results (``"pcm - cam"``, ``"multires_resnet10t -
resnet10t"``) written and parsed here alone."""

from __future__ import annotations

from cxr_paper.scoring.map_kinds import OWN_CAM, MapKind

SEPARATOR = " - "


class Comparison(str):
    """``minuend − subtrahend``; like :class:`~cxr_paper.scoring.map_kinds.MapKind`, it *is* its
    key (a ``str``).

    Attributes:
        minuend: What is subtracted from (a map kind's key or a model name).
        subtrahend: What is subtracted.

    Examples:
        >>> Comparison.of_kind("pcm").key, Comparison.parse("pcm - cam").kind_label
        ('pcm - cam', 'CAM + PCM − CAM')
        >>> Comparison.parse("multires_resnet10t - resnet10t").subtrahend
        'resnet10t'
    """

    def __new__(cls, minuend: str, subtrahend: str) -> Comparison:
        if not minuend or not subtrahend or SEPARATOR in minuend or SEPARATOR in subtrahend:
            raise ValueError(f"{minuend!r} and {subtrahend!r} do not make a comparison.")
        return super().__new__(cls, f"{minuend}{SEPARATOR}{subtrahend}")

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # pickling
        return self.minuend, self.subtrahend

    def __repr__(self) -> str:
        return f"Comparison({self.minuend!r}, {self.subtrahend!r})"

    @property
    def minuend(self) -> str:
        return self.partition(SEPARATOR)[0]

    @property
    def subtrahend(self) -> str:
        return self.partition(SEPARATOR)[2]

    @property
    def key(self) -> str:
        """How results name it."""
        return str(self)

    @property
    def across_maps(self) -> bool:
        """Whether it compares a map kind with the model's own CAM (not two models)."""
        return self.subtrahend == OWN_CAM

    @classmethod
    def parse(cls, key: str) -> Comparison:
        minuend, separator, subtrahend = key.partition(SEPARATOR)
        if not separator or not minuend or not subtrahend:
            raise ValueError(f"{key!r} is not a comparison ('<a>{SEPARATOR}<b>').")
        return cls(minuend, subtrahend)

    @classmethod
    def of_kind(cls, kind: str) -> Comparison:
        """A map kind against the model's own CAM."""
        return cls(kind, OWN_CAM)

    @property
    def kind_label(self) -> str:
        """A map-kind comparison as tables name it."""
        return f"{MapKind.parse(self.minuend).label} − {MapKind.parse(self.subtrahend).label}"


def is_across_models(key: str, model: str) -> bool:
    """Whether ``key`` (one of ``model``'s paired results) compares ``model`` with another model,
    rather than one of its map kinds with its CAM; a key that is no comparison is neither.

    Args:
        key: A key of a model's ``paired`` results.
        model: The model the results belong to.

    Returns:
        ``True`` for ``"model - other"``.

    Examples:
        >>> [is_across_models(key, "m") for key in ("m - s", "pcm - cam", "x")]
        [True, False, False]
    """
    return is_comparison(key) and Comparison.parse(key).minuend == model


def is_comparison(key: str) -> bool:
    """Whether a result key names a paired difference.

    Args:
        key: A result key.

    Returns:
        ``True`` when ``key`` has the form ``"a - b"``.

    Examples:
        >>> is_comparison("pcm - cam"), is_comparison("gradcam++")
        (True, False)
    """
    return SEPARATOR in key
