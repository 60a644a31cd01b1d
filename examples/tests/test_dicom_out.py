"""DICOM outputs of predict.py, read back with pydicom alone (walking the SR's content tree)
and with highdicom: codes, coordinates in the source image's pixels, references, and that every
finding and box of the JSON is in the SR."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
import torch
from dicom_files import write_dicom

from cxr14_data import CLASSES
from cxr14_data.synthetic import render_image
from cxr_paper.deploy.pretrained import CXRLocalizer
from cxr_paper.jobs import predict

ROWS, COLUMNS = 300, 220  # not square, not the model's 64 px: the outputs must be in these pixels


def _content_items(dataset):
    """Every item of an SR's content tree (depth first), with pydicom only."""
    for item in dataset.get("ContentSequence", []):
        yield item
        yield from _content_items(item)


def _code(item, sequence="ConceptNameCodeSequence"):
    code = item[sequence][0]
    return code.CodeValue, code.CodingSchemeDesignator


class CraftedModel:
    """Answers like a saved model with known maps: Nodule and Effusion predicted (p = 0.9), each
    map one blob, so their boxes are known regions of the image, not the whole of it."""

    architecture, image_size, temperature, operating_points = "multires_resnet10t", 64, 1.0, None
    classes, normalization, device = list(CLASSES), ((0.5,) * 3, (0.25,) * 3), torch.device("cpu")
    BLOBS: ClassVar = {"Nodule": (slice(1, 3), slice(5, 7)), "Effusion": (slice(5, 8), slice(0, 3))}

    def __call__(self, images):
        from cxr_paper.deploy.pretrained import Prediction

        probs = torch.full((len(images), len(CLASSES)), 0.1)
        maps = torch.zeros(len(images), len(CLASSES), 8, 8)
        for name, (rows, columns) in self.BLOBS.items():
            probs[:, CLASSES.index(name)] = 0.9
            maps[:, CLASSES.index(name), rows, columns] = 1.0
        return Prediction(probs, maps, maps)


@pytest.fixture(scope="module")
def predicted(tmp_path_factory, highdicom):
    """predict.py's loop with --dicom on a generated DX image of 300 x 220 pixels."""
    folder = tmp_path_factory.mktemp("dicom")
    gray, _ = render_image(0, 5, 0, ["Nodule", "Effusion"], max(ROWS, COLUMNS))
    source = write_dicom(folder / "scan.dcm", gray[:ROWS, :COLUMNS].astype(np.uint16) * 16)
    argv = [str(folder / "scan.dcm"), "--model", "unused", "--out", str(folder / "p"), "--dicom"]
    args = predict.get_args_parser().parse_args(argv)
    (folder / "p").mkdir()
    thresholds = dict.fromkeys(CLASSES, 0.5)
    assert predict.predict_all(args, CraftedModel(), thresholds, 0.7, None) == 0
    result = json.loads((folder / "p" / "scan.json").read_text())
    assert result["predicted"] == ["Effusion", "Nodule"]
    return source, result, folder / "p"


def test_every_finding_and_box_is_in_the_sr_with_its_code(predicted):
    import pydicom

    from cxr_paper.deploy.dicom_common import finding_code

    source, result, out = predicted
    assert result["dicom"] == {"sr": "scan_sr.dcm", "heatmaps": "scan_heatmaps.dcm"}
    sr = pydicom.dcmread(out / "scan_sr.dcm")
    assert sr.Modality == "SR" and sr.StudyInstanceUID == source.StudyInstanceUID
    assert sr.PatientID == source.PatientID
    assert _code(sr) == ("126000", "DCM")  # Imaging Measurement Report
    findings, probabilities, polylines = [], {}, []
    for item in _content_items(sr):
        name = _code(item) if "ConceptNameCodeSequence" in item else None
        if name == ("121071", "DCM"):  # Finding
            findings.append(_code(item, "ConceptCodeSequence"))
        if name == ("122157", "DCM"):  # Probability
            value = float(item.MeasuredValueSequence[0].NumericValue)
            probabilities.setdefault(findings[-1], set()).add(round(value, 5))
        if item.ValueType == "SCOORD":
            assert item.GraphicType == "POLYLINE"
            image = item.ContentSequence[0].ReferencedSOPSequence[0]
            assert image.ReferencedSOPInstanceUID == source.SOPInstanceUID
            assert image.ReferencedSOPClassUID == source.SOPClassUID
            polylines.append((findings[-1], np.reshape(item.GraphicData, (-1, 2)).tolist()))
    codes = {c: (finding_code(c).value, finding_code(c).scheme_designator) for c in CLASSES}
    boxes = [(codes[c], box) for c in result["predicted"] for box in result["boxes"][c]]
    assert len(boxes) > 0 and len(polylines) == len(boxes)
    for (code, (x, y, w, h)), (found, line) in zip(boxes, polylines, strict=True):
        assert found == code
        corners = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        assert np.allclose(line, corners, atol=1e-4)
    # each blob's box, scaled from the 8 x 8 map to the source's pixels (the map's cells are
    # COLUMNS / 8 wide and ROWS / 8 high; the resize blurs a blob's edge by under a cell)
    for name, (rows, columns) in CraftedModel.BLOBS.items():
        ((x, y, w, h),) = result["boxes"][name]
        cell_w, cell_h = COLUMNS / 8, ROWS / 8
        assert abs(x - columns.start * cell_w) < cell_w and abs(y - rows.start * cell_h) < cell_h
        assert abs(x + w - columns.stop * cell_w) < cell_w
        assert abs(y + h - rows.stop * cell_h) < cell_h
    for name in CLASSES:  # every class, predicted or not, with its probability
        assert probabilities[codes[name]] == {round(result["probabilities"][name], 5)}
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == source.StudyInstanceUID
    assert evidence.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID


def test_highdicom_reads_the_same_report(predicted):
    import highdicom as hd

    _, result, out = predicted
    report = hd.sr.srread(out / "scan_sr.dcm")
    rois = report.content.get_planar_roi_measurement_groups()
    assert sum(len(result["boxes"][c]) for c in result["predicted"]) == len(rois)
    images = report.content.get_image_measurement_groups()
    assert [g.finding_type.meaning for g in images] == [
        hd.sr.CodedConcept(*_as_tuple(c)).meaning for c in CLASSES
    ]
    assert _presence(images) == {c: c in result["predicted"] for c in CLASSES}


def _presence(groups):
    """Class meaning -> whether the group says Present (Absent otherwise), from its
    qualitative evaluation."""
    from pydicom.sr.codedict import codes

    from cxr_paper.deploy.dicom_common import finding_code

    names = {finding_code(c).meaning: c for c in CLASSES}
    found = {}
    for group in groups:
        (evaluation,) = group.get_qualitative_evaluations(name=codes.DCM.PresenceOfProperty)
        assert evaluation.value in (codes.SCT.Present, codes.SCT.Absent)
        found[names[group.finding_type.meaning]] = evaluation.value == codes.SCT.Present
    return found


def _as_tuple(name):
    from cxr_paper.deploy.dicom_common import finding_code

    code = finding_code(name)
    return code.value, code.scheme_designator, code.meaning


def test_heatmaps_are_a_fractional_segmentation_of_the_source(predicted):
    import highdicom as hd

    from cxr_paper.deploy.dicom_common import finding_code

    source, result, out = predicted
    seg = hd.seg.segread(out / "scan_heatmaps.dcm")
    assert seg.SegmentationType == "FRACTIONAL" and (seg.Rows, seg.Columns) == (ROWS, COLUMNS)
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    assert labels == result["predicted"]
    for segment, name in zip(seg.SegmentSequence, labels, strict=True):
        code = segment.SegmentedPropertyTypeCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == _as_tuple(name)[:2]
        assert finding_code(name).value == code.CodeValue
    pixels = seg.get_pixels_by_source_instance(
        [source.SOPInstanceUID], combine_segments=False, rescale_fractional=True
    )[0]
    assert pixels.shape == (ROWS, COLUMNS, len(labels))
    from cam_boxes_iobb import normalize_heatmap

    maps = CraftedModel()(torch.zeros(1, 3, 64, 64)).refined[0].numpy()
    for index, name in enumerate(labels):
        expected = normalize_heatmap(maps[CLASSES.index(name)], size=(ROWS, COLUMNS))
        assert np.abs(pixels[..., index] - expected).max() <= 1 / 510 + 1e-6  # 8-bit storage


def test_codes_come_from_the_dicom_dictionary():
    from pydicom.sr.codedict import codes

    from cxr_paper.deploy.dicom_common import FINDING_CODES, LOCAL_SCHEME, finding_code

    assert finding_code("Effusion").meaning == "Pleural effusion"
    assert finding_code("Pneumothorax").value == codes.SCT.Pneumothorax.value == "36118008"
    assert finding_code("Infiltration").scheme_designator == "DCM"
    local = [c for c in CLASSES if c not in FINDING_CODES]
    assert local == [
        "Atelectasis",
        "Pneumonia",
        "Consolidation",
        "Emphysema",
        "Pleural_Thickening",
        "Hernia",
    ]
    assert {finding_code(c).scheme_designator for c in local} == {LOCAL_SCHEME}


def test_a_source_without_uids_is_named_and_the_others_still_run(tmp_path, highdicom, capsys):
    gray, _ = render_image(0, 6, 0, [], 96)
    write_dicom(tmp_path / "good.dcm", gray.astype(np.uint16))
    write_dicom(tmp_path / "anonymous.dcm", gray.astype(np.uint16), drop=["StudyInstanceUID"])
    model = CXRLocalizer("resnet10t", list(CLASSES), image_size=64)
    model.save_pretrained(tmp_path / "model")
    argv = [str(tmp_path / "good.dcm"), str(tmp_path / "anonymous.dcm")]
    argv += ["--model", str(tmp_path / "model"), "--out", str(tmp_path / "p"), "--dicom"]
    assert predict.main(predict.get_args_parser().parse_args(argv)) == 1
    assert "anonymous.dcm: cannot be referenced from a DICOM output: no StudyInstanceUID" in (
        capsys.readouterr().err
    )
    assert (tmp_path / "p" / "good_sr.dcm").is_file()
    assert (tmp_path / "p" / "anonymous.json").is_file()  # the prediction itself is kept
    assert not (tmp_path / "p" / "anonymous_sr.dcm").exists()


class NothingFound(CraftedModel):
    """A normal study: every probability below its threshold."""

    def __call__(self, images):
        prediction = super().__call__(images)
        return type(prediction)(torch.full_like(prediction.probs, 0.05), *prediction[1:])


def test_a_normal_study_gets_a_report_that_says_every_class_is_absent(tmp_path, highdicom):
    """The normal case crashed in highdicom (no measurement group), wrote nothing, and the
    inputs after it never ran."""
    gray, _ = render_image(0, 7, 0, [], 96)
    for name in ("normal.dcm", "next.dcm"):
        write_dicom(tmp_path / name, gray.astype(np.uint16))
    argv = [str(tmp_path / "normal.dcm"), str(tmp_path / "next.dcm"), "--model", "unused"]
    args = predict.get_args_parser().parse_args([*argv, "--out", str(tmp_path / "p"), "--dicom"])
    (tmp_path / "p").mkdir()
    assert predict.predict_all(args, NothingFound(), dict.fromkeys(CLASSES, 0.5), 0.7, None) == 0
    for stem in ("normal", "next"):
        result = json.loads((tmp_path / "p" / f"{stem}.json").read_text())
        assert result["predicted"] == [] and result["dicom"] == {"sr": f"{stem}_sr.dcm"}
        report = highdicom.sr.srread(tmp_path / "p" / f"{stem}_sr.dcm")
        groups = report.content.get_image_measurement_groups()
        assert _presence(groups) == dict.fromkeys(CLASSES, False)
        assert report.content.get_planar_roi_measurement_groups() == []
    assert not list((tmp_path / "p").glob("*_heatmaps.dcm"))  # nothing to overlay


def test_a_source_without_patient_attributes_gets_them_empty(tmp_path, highdicom):
    """De-identified research data often lacks the type-2 patient and study attributes: the
    outputs leave them empty (PatientBirthDate ended predict.py --dicom with AttributeError)."""
    import pydicom

    from cxr_paper.deploy.dicom_common import COPIED_EMPTY_IF_ABSENT

    gray, _ = render_image(0, 8, 0, ["Nodule", "Effusion"], 96)
    keep_only_identity = [*COPIED_EMPTY_IF_ABSENT, "SeriesNumber", "InstanceNumber"]
    write_dicom(tmp_path / "bare.dcm", gray.astype(np.uint16), drop=keep_only_identity)
    args = predict.get_args_parser().parse_args(
        [str(tmp_path / "bare.dcm"), "--model", "unused", "--out", str(tmp_path / "p"), "--dicom"]
    )
    (tmp_path / "p").mkdir()
    assert predict.predict_all(args, CraftedModel(), dict.fromkeys(CLASSES, 0.5), 0.7, None) == 0
    for name in ("bare_sr.dcm", "bare_heatmaps.dcm"):
        written = pydicom.dcmread(tmp_path / "p" / name)
        for keyword in COPIED_EMPTY_IF_ABSENT:
            assert keyword in written and not written.data_element(keyword).value, keyword
