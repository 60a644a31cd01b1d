"""How the test split is scored: thresholds, map methods, the calibration split's seed and the
pointing game's tolerance, and which kinds of map that makes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.scoring.map_kinds import MapKind


@dataclass(frozen=True)
class EvaluationSettings:
    """How the test split is scored: the paper's probability and heatmap thresholds, the map
    methods (:data:`~cxr_paper.configuration.map_methods.CAM_METHODS`, each also PCM-refined when
    there is a PCM), the seed of the calibration split and the pointing game's tolerance.

    Attributes:
        prob_threshold: A class's boxes are scored only above this probability.
        heatmap_threshold: ``Q``, the share of a heatmap's maximum that forms boxes.
        methods: The map methods scored.
        seed: The seed of the calibration split.
        pointing_tolerance: The pointing game's tolerance in pixels.
    """

    prob_threshold: float = PAPER_PROTOCOL.prob_threshold
    heatmap_threshold: float = PAPER_PROTOCOL.heatmap_threshold
    methods: tuple[str, ...] = ("cam",)
    seed: int = 0
    pointing_tolerance: float = 15.0

    @classmethod
    def of_run(cls, config: RunConfig, methods: Sequence[str] | None = None) -> EvaluationSettings:
        """A run's settings (its ``--cam-methods`` unless ``methods`` is given)."""
        return cls(
            prob_threshold=config.prob_threshold,
            heatmap_threshold=config.heatmap_threshold,
            methods=tuple(config.cam_methods if methods is None else methods),
            seed=config.data_seed,
            pointing_tolerance=config.pointing_tolerance,
        )

    def map_kinds(self, with_pcm: bool) -> list[MapKind]:
        """The kinds of map scored: each method's, then (with a PCM) refined."""
        return [MapKind(m, p) for m in self.methods for p in (False, True) if p <= with_pcm]


#: The paper's settings, the model's own CAM only.
PAPER_EVALUATION = EvaluationSettings()
