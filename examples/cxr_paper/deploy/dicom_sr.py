"""The Structured Report of a prediction on a DICOM image.

``<name>_sr.dcm``: a Comprehensive 3D SR holding an Imaging Measurement Report (TID 1500,
  DICOM PS3.16). Per class of the model, one image-level measurement group (TID 1501) with its
  probability (``(122157, DCM, "Probability")``, unit ``(1, UCUM, "no units")``) and whether it is
  predicted (``(121052, DCM, "Presence of property")`` = ``(52101004, SCT, "Present")`` or
  ``(272519000, SCT, "Absent")``), so a study with no finding says so; and per box of a
  predicted finding one planar ROI group (TID 1410) whose region is a closed ``POLYLINE`` SCOORD of
  the box's four corners in the source image's pixels (PS3.3 C.18.6.1.2: ``(0, 0)`` is the
  top-left corner of the top-left pixel, ``(column, row)``), with the finding and its
  probability. Patient and study attributes the source lacks are left empty. The device that
  observed it is the model (its architecture; a UID derived from its name and classes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cxr_paper.deploy.dicom_common import (
    SR_SERIES_NUMBER,
    device_of,
    finding_code,
    new_series,
)


def box_polyline(box: list[float]) -> np.ndarray:
    """A box ``(x, y, w, h)`` as the closed polyline of its corners, ``(column, row)`` pairs.

    Args:
        box: ``[x, y, w, h]`` in pixels.

    Returns:
        Float array ``(5, 2)``.

    Examples:
        >>> box_polyline([10, 20, 5, 8]).tolist()
        [[10.0, 20.0], [15.0, 20.0], [15.0, 28.0], [10.0, 28.0], [10.0, 20.0]]
    """
    x, y, w, h = (float(v) for v in box)
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]])


def _probability(value: float) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.sr.Measurement(name=codes.DCM.Probability, value=value, unit=codes.UCUM.NoUnits)


def structured_report(source: Any, result: Mapping[str, Any], model: Any) -> Any:
    """The TID 1500 report of one prediction (``predict.py``'s JSON ``result``).

    Args:
        source: The source image's dataset (:func:`read_source`).
        result: ``predict.py``'s result: ``probabilities``, ``predicted``, ``boxes``.
        model: The model that made it.

    Returns:
        A ``highdicom.sr.Comprehensive3DSR``; every class gets a finding (present or absent).
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    device = device_of(model)
    algorithm = hd.sr.AlgorithmIdentification(name=device["name"], version=device["version"])
    image = hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID)
    groups: list[Any] = []
    predicted = set(result["predicted"])
    for finding in model.classes:
        code = finding_code(finding)
        probability = _probability(result["probabilities"][finding])
        presence = hd.sr.QualitativeEvaluation(
            name=codes.DCM.PresenceOfProperty,
            value=codes.SCT.Present if finding in predicted else codes.SCT.Absent,
        )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=generate_uid(), identifier=finding
                ),
                finding_type=code,
                algorithm_id=algorithm,
                measurements=[probability],
                qualitative_evaluations=[presence],
                source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
            )
        )
    for finding in result["predicted"]:
        code, probability = finding_code(finding), _probability(result["probabilities"][finding])
        for number, box in enumerate(result["boxes"].get(finding, []), start=1):
            region = hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=box_polyline(box),
                source_image=image,
            )
            groups.append(
                hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=hd.sr.TrackingIdentifier(
                        uid=generate_uid(), identifier=f"{finding} box {number}"
                    ),
                    referenced_region=region,
                    finding_type=code,
                    algorithm_id=algorithm,
                    measurements=[probability],
                )
            )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device["uid"], name=device["name"], model_name=model.architecture
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.XRUnspecifiedBodyRegion,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[source],
        content=report,
        **new_series(SR_SERIES_NUMBER),
        is_complete=True,
        series_description=f"{device['name']} findings (research use)",
    )
