"""The heatmaps of a prediction on a DICOM image as a DICOM Segmentation.

``<name>_heatmaps.dcm``: a Segmentation, ``FRACTIONAL`` with one segment per predicted finding,
  the heatmap at the source image's size stored in 8 bits (error at most 1/510). A Segmentation
  rather than a Parametric Map: viewers (OHIF, 3D Slicer) overlay it on the radiograph, and
  highdicom 0.28 cannot derive a Parametric Map from a projection radiograph without a patient
  frame of reference. Its fractional type says ``PROBABILITY``, the type DICOM has for soft
  outputs; the values are max-normalised class activation maps (relative evidence within the
  image, each map's peak 1), **not** calibrated probabilities; the series description says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cxr_paper.deploy.dicom_common import (
    HEATMAP_NOTE,
    SEG_SERIES_NUMBER,
    DicomOutputError,
    device_of,
    finding_code,
    new_series,
)


def heatmap_segmentation(source: Any, heatmaps: Mapping[str, np.ndarray], model: Any) -> Any:
    """A FRACTIONAL Segmentation with one segment per heatmap (at the source image's size).

    Args:
        source: The source image's dataset (:func:`read_source`).
        heatmaps: Per class, a float array ``(Rows, Columns)`` in ``[0, 1]``.
        model: The model that made them.

    Returns:
        A ``highdicom.seg.Segmentation``.

    Raises:
        DicomOutputError: A heatmap not of the source's size.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    device = device_of(model)
    names = list(heatmaps)
    expected = (int(source.Rows), int(source.Columns))
    wrong = {n: m.shape for n, m in heatmaps.items() if m.shape != expected}
    if wrong:
        raise DicomOutputError(f"heatmaps {wrong} are not the source image's {expected}.")
    algorithm = hd.AlgorithmIdentificationSequence(
        name=device["name"], version=device["version"], family=codes.DCM.ArtificialIntelligence
    )
    segments = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name[:64],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=finding_code(name),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for number, name in enumerate(names, start=1)
    ]
    pixels = np.stack([np.clip(heatmaps[n], 0, 1) for n in names], axis=-1)[None]
    return hd.seg.Segmentation(
        source_images=[source],
        pixel_array=pixels.astype(np.float32),
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        segment_descriptions=segments,
        **new_series(SEG_SERIES_NUMBER),
        manufacturer_model_name=model.architecture,
        software_versions=device["version"],
        device_serial_number=device["uid"][-16:],
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY,
        max_fractional_value=255,
        series_description=HEATMAP_NOTE[:64],
    )
