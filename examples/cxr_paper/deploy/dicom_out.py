"""A prediction on a DICOM image, written back as DICOM (``highdicom``): a Structured Report of the
findings and boxes, and a Segmentation of the heatmaps, both referencing the source image.

- ``<name>_sr.dcm``: a Comprehensive 3D SR holding an Imaging Measurement Report (TID 1500,
  DICOM PS3.16). Per class of the model, one image-level measurement group (TID 1501) with its
  probability (``(122157, DCM, "Probability")``, unit ``(1, UCUM, "no units")``) and whether it is
  predicted (``(121052, DCM, "Presence of property")`` = ``(52101004, SCT, "Present")`` or
  ``(272519000, SCT, "Absent")``), so a study with no finding says so; and per box of a
  predicted finding one planar ROI group (TID 1410) whose region is a closed ``POLYLINE`` SCOORD of
  the box's four corners in the source image's pixels (PS3.3 C.18.6.1.2: ``(0, 0)`` is the
  top-left corner of the top-left pixel, ``(column, row)``), with the finding and its
  probability. Patient and study attributes the source lacks are left empty. The device that
  observed it is the model (its architecture; a UID derived from its name and classes).
- ``<name>_heatmaps.dcm``: a Segmentation, ``FRACTIONAL`` with one segment per predicted finding,
  the heatmap at the source image's size stored in 8 bits (error at most 1/510). A Segmentation
  rather than a Parametric Map: viewers (OHIF, 3D Slicer) overlay it on the radiograph, and
  highdicom 0.28 cannot derive a Parametric Map from a projection radiograph without a patient
  frame of reference. Its fractional type says ``PROBABILITY``, the type DICOM has for soft
  outputs; the values are max-normalised class activation maps (relative evidence within the
  image, each map's peak 1), **not** calibrated probabilities; the series description says so.

Findings are coded from DICOM PS3.16's own dictionary where it has the concept (as pydicom ships
it: SNOMED CT ``SCT`` or DICOM ``DCM``, see :data:`FINDING_CODES`); a finding without one there
(ChestX-ray14's Atelectasis, Consolidation, Emphysema, Hernia, Pleural_Thickening, Pneumonia, and
any class of another data set) is named in the local coding scheme :data:`LOCAL_SCHEME` (PS3.3
8.2: designators beginning with ``99`` are private), its code value the class name.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cxr14_data import ImageDecodeError, is_dicom, read_dicom_header
from cxr_paper.files.atomic import atomic_write

__all__ = ["FINDING_CODES", "LOCAL_SCHEME", "DicomOutputError", "finding_code", "is_dicom"]

#: ChestX-ray14 label -> (pydicom ``codes`` scheme, concept name) in DICOM PS3.16's dictionary.
FINDING_CODES: dict[str, tuple[str, str]] = {
    "Cardiomegaly": ("SCT", "Cardiomegaly"),
    "Edema": ("SCT", "PulmonaryEdema"),
    "Effusion": ("SCT", "PleuralEffusion"),
    "Fibrosis": ("SCT", "Fibrosis"),
    "Infiltration": ("DCM", "Infiltrate"),
    "Mass": ("SCT", "Mass"),
    "Nodule": ("SCT", "Nodule"),
    "Pneumothorax": ("SCT", "Pneumothorax"),
}
LOCAL_SCHEME = "99CXR14"
SR_SERIES_NUMBER = 9001
SEG_SERIES_NUMBER = 9002
#: What the source image must hold for the outputs to reference it.
REQUIRED = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Rows",
    "Columns",
)
#: Patient and study attributes the outputs copy from the source: type 2 there (present, maybe
#: empty), often absent from de-identified research data; an absent one is copied as empty.
COPIED_EMPTY_IF_ABSENT = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
HEATMAP_NOTE = "CAM heatmaps, max-normalised: relative evidence, not probabilities"


class DicomOutputError(ValueError):
    """The source DICOM cannot be referenced (a missing UID) or does not match the prediction."""


def finding_code(name: str) -> Any:
    """The coded concept of a finding (see the module's note on coding schemes).

    Example:
        >>> code = finding_code("Effusion")
        >>> code.value, code.scheme_designator, code.meaning
        ('60046008', 'SCT', 'Pleural effusion')
        >>> code = finding_code("Atelectasis")
        >>> code.value, code.scheme_designator
        ('Atelectasis', '99CXR14')
    """
    from highdicom.sr import CodedConcept
    from pydicom.sr.codedict import codes

    if name in FINDING_CODES:
        scheme, concept = FINDING_CODES[name]
        code = getattr(getattr(codes, scheme), concept)
        return CodedConcept(code.value, code.scheme_designator, code.meaning)
    return CodedConcept(name[:16], LOCAL_SCHEME, name)


def box_polyline(box: list[float]) -> np.ndarray:
    """A box ``(x, y, w, h)`` as the closed polyline of its corners, ``(column, row)`` pairs.

    Example:
        >>> box_polyline([10, 20, 5, 8]).tolist()
        [[10.0, 20.0], [15.0, 20.0], [15.0, 28.0], [10.0, 28.0], [10.0, 20.0]]
    """
    x, y, w, h = (float(v) for v in box)
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]])


def read_source(path: Path) -> Any:
    """The source image's header, refused (naming the file) if it cannot be referenced."""
    try:
        dataset = read_dicom_header(path)
    except ImageDecodeError as error:
        raise DicomOutputError(str(error)) from None
    missing = [k for k in REQUIRED if not str(dataset.get(k, "")).strip()]
    if missing:
        raise DicomOutputError(
            f"{path}: cannot be referenced from a DICOM output: no {', '.join(missing)}."
        )
    for keyword in COPIED_EMPTY_IF_ABSENT:
        if keyword not in dataset:
            setattr(dataset, keyword, None)  # an empty value of the attribute's VR
    return dataset


def _device(model: Any) -> dict[str, Any]:
    from pydicom.uid import generate_uid

    version = importlib.metadata.version("cxr-paper")
    name = f"cxr-wsl {model.architecture}"
    uid = generate_uid(entropy_srcs=[name, *model.classes])
    return {"name": name, "uid": uid, "version": version}


def _new_series(number: int) -> dict[str, Any]:
    """A new series of one instance written by this project: its UIDs, numbers, manufacturer."""
    from pydicom.uid import generate_uid

    return {
        "series_instance_uid": generate_uid(),
        "series_number": number,
        "sop_instance_uid": generate_uid(),
        "instance_number": 1,
        "manufacturer": "cxr-wsl",
    }


def _probability(value: float) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.sr.Measurement(name=codes.DCM.Probability, value=value, unit=codes.UCUM.NoUnits)


def structured_report(source: Any, result: Mapping[str, Any], model: Any) -> Any:
    """The TID 1500 report of one prediction (``predict.py``'s JSON ``result``)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    device = _device(model)
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
        **_new_series(SR_SERIES_NUMBER),
        is_complete=True,
        series_description=f"{device['name']} findings (research use)",
    )


def heatmap_segmentation(source: Any, heatmaps: Mapping[str, np.ndarray], model: Any) -> Any:
    """A FRACTIONAL Segmentation with one segment per heatmap (at the source image's size)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    device = _device(model)
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
        **_new_series(SEG_SERIES_NUMBER),
        manufacturer_model_name=model.architecture,
        software_versions=device["version"],
        device_serial_number=device["uid"][-16:],
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY,
        max_fractional_value=255,
        series_description=HEATMAP_NOTE[:64],
    )


def write_dicom_outputs(
    path: Path,
    result: Mapping[str, Any],
    heatmaps: Mapping[str, np.ndarray],
    model: Any,
    stem: Path,
) -> dict[str, Path]:
    """Write ``<stem>_sr.dcm`` and (if any class was predicted) ``<stem>_heatmaps.dcm`` for the
    DICOM at ``path``; the files written, by kind (``"sr"``, ``"heatmaps"``)."""
    source = read_source(path)
    written = {"sr": stem.with_name(f"{stem.name}_sr.dcm")}
    report = structured_report(source, result, model)
    atomic_write(written["sr"], lambda temporary: report.save_as(temporary))
    if heatmaps:
        written["heatmaps"] = stem.with_name(f"{stem.name}_heatmaps.dcm")
        segmentation = heatmap_segmentation(source, heatmaps, model)
        atomic_write(written["heatmaps"], lambda temporary: segmentation.save_as(temporary))
    return written
