"""What both DICOM outputs share: the source image they reference, the device that made them,
the series they start, and how findings are coded.

Findings are coded from DICOM PS3.16's own dictionary where it has the concept (as pydicom ships
it: SNOMED CT ``SCT`` or DICOM ``DCM``, see :data:`FINDING_CODES`); a finding without one there
(ChestX-ray14's Atelectasis, Consolidation, Emphysema, Hernia, Pleural_Thickening, Pneumonia, and
any class of another data set) is named in the local coding scheme :data:`LOCAL_SCHEME` (PS3.3
8.2: designators beginning with ``99`` are private), its code value the class name.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from cxr14_data import ImageDecodeError, is_dicom, read_dicom_header

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

    Args:
        name: A class name.

    Returns:
        A ``pydicom.sr.coding.Code``.

    Examples:
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


def read_source(path: Path) -> Any:
    """The source image's header, refused (naming the file) if it cannot be referenced.

    Args:
        path: A DICOM file.

    Returns:
        Its ``pydicom.Dataset`` (pixel data not read).

    Raises:
        DicomOutputError: Unreadable, or a UID the outputs must reference is missing.
    """
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


def device_of(model: Any) -> dict[str, Any]:
    """The algorithm that writes our DICOM objects: a name, a stable UID and the version.

    Args:
        model: A loaded model (its ``architecture`` and ``classes``).

    Returns:
        ``{"name", "uid", "version"}``.
    """
    from pydicom.uid import generate_uid

    version = importlib.metadata.version("cxr-paper")
    name = f"cxr-wsl {model.architecture}"
    uid = generate_uid(entropy_srcs=[name, *model.classes])
    return {"name": name, "uid": uid, "version": version}


def new_series(number: int) -> dict[str, Any]:
    """A new series of one instance written by this project: its UIDs, numbers, manufacturer.

    Args:
        number: The series number.

    Returns:
        Keyword arguments for highdicom's constructors.
    """
    from pydicom.uid import generate_uid

    return {
        "series_instance_uid": generate_uid(),
        "series_number": number,
        "sop_instance_uid": generate_uid(),
        "instance_number": 1,
        "manufacturer": "cxr-wsl",
    }
