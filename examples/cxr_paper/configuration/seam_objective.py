"""The SEAM objective a run's settings name (``--seam-variant``, ``--seam-overrides``)."""

from __future__ import annotations

from cxr_paper.configuration.config import RunConfig
from cxr_paper.errors import RunError
from pcm_seam import SEAMLoss


def seam_loss(config: RunConfig) -> SEAMLoss:
    """The stage-2 objective: ``--seam-variant`` with ``--seam-overrides`` on top, the one mapping
    from a run's settings to :meth:`pcm_seam.SEAMLoss.variant`.

    Args:
        config: The run's settings.

    Returns:
        The loss module.

    Raises:
        RunError: An unknown variant or override.
    """
    if not isinstance(config.seam_overrides, dict):
        raise RunError(
            f"--seam-overrides {config.seam_overrides!r}: expected a JSON object of SEAMLoss "
            'arguments, e.g. \'{"ecr_resolution": "cam"}\'.'
        )
    overrides = dict(config.seam_overrides)
    if config.seam_variant == "authors":
        # their PCM-input line reads a 15th classifier output that these models do not return
        overrides.setdefault("authors_input_bug", False)
    try:
        return SEAMLoss.variant(config.seam_variant, **overrides)
    except (TypeError, ValueError) as error:
        raise RunError(f"--seam-variant {config.seam_variant} --seam-overrides: {error}") from None
