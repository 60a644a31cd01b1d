"""The paper's localization protocol as one value: the heatmap threshold Q, the probability p
above which a class gets boxes, and the overlap T of the headline accuracy. The run's flags
default to it, the scorers take it, and every caption prints the value a run used from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LocalizationProtocol:
    """Q, p and the headline T (the paper's: 0.7, 0.5, IoBB > 0.1).

    Attributes:
        heatmap_threshold: ``Q``, the share of a heatmap's maximum that forms boxes.
        prob_threshold: ``p``: boxes only for classes predicted above it.
        overlap: ``T``, the headline IoBB threshold.

    Examples:
        >>> PAPER_PROTOCOL.caption()
        'heatmap ≥ Q = 0.7, classes predicted above p = 0.5, IoBB > 0.1'
        >>> LocalizationProtocol.of({"heatmap_threshold": 0.6, "prob_threshold": 0.3}).caption()
        'heatmap ≥ Q = 0.6, classes predicted above p = 0.3, IoBB > 0.1'
    """

    heatmap_threshold: float = 0.7
    prob_threshold: float = 0.5
    overlap: float = 0.1

    @classmethod
    def of(cls, settings: Any) -> LocalizationProtocol:
        """The protocol of a run's settings (a ``RunConfig`` or its ``config.json`` values)."""

        def get(name: str) -> Any:
            if isinstance(settings, dict):
                return settings.get(name, getattr(PAPER_PROTOCOL, name))
            return getattr(settings, name, getattr(PAPER_PROTOCOL, name))

        return cls(float(get("heatmap_threshold")), float(get("prob_threshold")))

    def caption(self) -> str:
        """The protocol in a report's words."""
        return (
            f"heatmap ≥ Q = {self.heatmap_threshold:g}, classes predicted above "
            f"p = {self.prob_threshold:g}, IoBB > {self.overlap:g}"
        )


#: The paper's protocol (D'Souza et al. 2022, after ChestX-ray8): the defaults everywhere.
PAPER_PROTOCOL = LocalizationProtocol()
