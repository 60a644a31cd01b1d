"""Each reader on small files written exactly as the data sets ship them (headers, quirks,
several readers per image), the COCO round trip, and malformed files refused by name and line."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cam_boxes_iobb.annotations import AnnotationError
from cam_boxes_iobb.formats import (
    CHEXLOCALIZE_CLASSES,
    NIH_CLASSES,
    VINDR_CLASSES,
    read_annotations,
    read_chestx_det,
    read_chexlocalize,
    read_coco,
    read_nih,
    read_rsna,
    read_vindr,
    write_coco,
)
from cam_boxes_iobb.rle import decode, encode

NIH_BOXES = (
    "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
    "00013118_008.png,Atelectasis,225.084745762712,547.019216763771,86.7796610169491,79.1864406779661,,,\n"
    "00013118_008.png,Infiltrate,225.0,547.0,86.5,79.0,,,\n"
    "00014716_007.png,Mass,686.101694915254,131.543442342146,185.491525423729,313.491525423729,,,\n"
)
NIH_ENTRY = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
    "00013118_008.png,Atelectasis|Infiltration,8,13118,58,M,PA,2992,2991,0.143,0.143,\n"
    "00014716_007.png,Mass,7,14716,61,F,AP,2500,2048,0.168,0.168,\n"
)
VINDR = (
    "image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n"
    "000434271f63a053c4128a0ba6352c7f,R2,No finding,,,,\n"
    "000434271f63a053c4128a0ba6352c7f,R3,No finding,,,,\n"
    "9a5094b2563a1ef3ff50dc5c7ff71345,R10,Cardiomegaly,691,1375,1653,1831\n"
    "9a5094b2563a1ef3ff50dc5c7ff71345,R9,Cardiomegaly,692,1360,1640,1840\n"
    "9a5094b2563a1ef3ff50dc5c7ff71345,R9,Pleural effusion,1264,743,1611,1019\n"
    "9a5094b2563a1ef3ff50dc5c7ff71345,R8,No finding,,,,\n"
)
VINDR_SIZES = (
    "image_id,height,width\n"
    "000434271f63a053c4128a0ba6352c7f,3072,3072\n"
    "9a5094b2563a1ef3ff50dc5c7ff71345,2336,2080\n"
)
RSNA = (
    "patientId,x,y,width,height,Target\n"
    "0004cfab-14fd-4e49-80ba-63a80b6bddd6,,,,,0\n"
    "00436515-870c-4b36-a041-de91049b9ab4,264.0,152.0,213.0,379.0,1\n"
    "00436515-870c-4b36-a041-de91049b9ab4,562.0,152.0,256.0,453.0,1\n"
)
CHESTX_DET = [
    {"file_name": "36199.png", "syms": [], "boxes": [], "polygons": []},
    {
        "file_name": "36302.png",
        "syms": ["Effusion", "Effusion"],
        "boxes": [[799, 666, 937, 761], [100, 600, 200, 700]],
        "polygons": [
            [[799, 678], [937, 700], [900, 761], [805, 740]],
            [[100, 600], [200, 610], [150, 700]],
        ],
    },
]


def _rle(mask: np.ndarray) -> dict:
    rle = encode(mask)
    return {"size": rle["size"], "counts": rle["counts"].decode()}


@pytest.fixture
def chexlocalize_file(tmp_path):
    seg = np.zeros((60, 40), np.uint8)
    seg[10:30, 5:25] = 1
    data = {
        "patient64541_study1_view1_frontal": {
            c: _rle(seg if c == "Cardiomegaly" else np.zeros((60, 40), np.uint8))
            for c in CHEXLOCALIZE_CLASSES
        },
        "patient64542_study1_view2_lateral": {
            c: _rle(np.zeros((50, 50), np.uint8)) for c in CHEXLOCALIZE_CLASSES
        },
    }
    path = tmp_path / "gt_segmentations_val.json"
    path.write_text(json.dumps(data))
    return path, seg


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


class TestReaders:
    def test_nih(self, tmp_path):
        _write(tmp_path, "BBox_List_2017.csv", NIH_BOXES)
        _write(tmp_path, "Data_Entry_2017.csv", NIH_ENTRY)
        ann = read_nih(tmp_path)  # the folder: Data_Entry gives the patients
        assert ann.classes == NIH_CLASSES
        image = ann["00013118_008.png"]
        assert image.patient == "13118" and (image.height, image.width) == (1024, 1024)
        assert set(image.boxes) == {"Atelectasis", "Infiltration"}  # "Infiltrate" renamed
        np.testing.assert_allclose(image.boxes["Infiltration"], [[225.0, 547.0, 86.5, 79.0]])
        assert ann.box_classes == NIH_CLASSES[:8]  # declared: scored even where absent here
        assert read_nih(tmp_path / "BBox_List_2017.csv", data_entry=None)["00014716_007.png"]

    def test_nih_patient_from_name(self, tmp_path):
        ann = read_nih(_write(tmp_path, "BBox_List_2017.csv", NIH_BOXES))
        assert ann["00014716_007.png"].patient == "00014716"

    def test_vindr_two_readers(self, tmp_path):
        path = _write(tmp_path, "annotations_train.csv", VINDR)
        ann = read_vindr(path, sizes=_write(tmp_path, "sizes.csv", VINDR_SIZES))
        assert ann.classes == VINDR_CLASSES and len(ann) == 2
        image = ann["9a5094b2563a1ef3ff50dc5c7ff71345"]
        np.testing.assert_allclose(
            image.boxes["Cardiomegaly"], [[691, 1375, 962, 456], [692, 1360, 948, 480]]
        )
        assert image.readers["Cardiomegaly"] == ["R10", "R9"]
        assert (image.height, image.width) == (2336, 2080)
        assert not ann["000434271f63a053c4128a0ba6352c7f"].boxes  # "No finding": a negative
        one = read_vindr(path, sizes=tmp_path / "sizes.csv", readers=["R9"])
        assert len(one["9a5094b2563a1ef3ff50dc5c7ff71345"].boxes["Cardiomegaly"]) == 1

    def test_vindr_kaggle_columns_and_rad_ID(self, tmp_path):
        text = (
            "image_id,class_name,class_id,rad_ID,x_min,y_min,x_max,y_max\n"
            "a,Aortic enlargement,0,R10,1000.0,700.0,1200.0,900.0\n"
            "b,No finding,14,R11,,,,\n"
        )
        ann = read_vindr(
            _write(tmp_path, "train.csv", text), sizes={"a": (2000, 2000), "b": (9, 9)}
        )
        assert ann["a"].readers["Aortic enlargement"] == ["R10"]

    def test_vindr_sizes_from_dicom_headers(self, tmp_path):
        pydicom = pytest.importorskip("pydicom")  # the [test] extra installs it
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, generate_uid

        meta = FileMetaDataset()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.MediaStorageSOPClassUID = generate_uid()
        meta.MediaStorageSOPInstanceUID = generate_uid()
        for name, (rows, cols) in {
            "000434271f63a053c4128a0ba6352c7f": (3072, 3072),
            "9a5094b2563a1ef3ff50dc5c7ff71345": (2336, 2080),
        }.items():
            ds = pydicom.Dataset()
            ds.file_meta = meta
            ds.Rows, ds.Columns = rows, cols
            ds.save_as(tmp_path / f"{name}.dicom", enforce_file_format=True)
        ann = read_vindr(_write(tmp_path, "annotations_train.csv", VINDR), dicom_dir=tmp_path)
        assert (
            ann["9a5094b2563a1ef3ff50dc5c7ff71345"].height,
            ann["9a5094b2563a1ef3ff50dc5c7ff71345"].width,
        ) == (2336, 2080)

    def test_rsna(self, tmp_path):
        ann = read_rsna(_write(tmp_path, "stage_2_train_labels.csv", RSNA))
        assert len(ann) == 2 and ann.classes == ("Lung Opacity",)
        assert ann["0004cfab-14fd-4e49-80ba-63a80b6bddd6"].boxes == {}
        assert len(ann["00436515-870c-4b36-a041-de91049b9ab4"].boxes["Lung Opacity"]) == 2

    def test_chestx_det_boxes_and_masks(self, tmp_path):
        ann = read_chestx_det(_write(tmp_path, "ChestX_Det_test.json", json.dumps(CHESTX_DET)))
        image = ann["36302.png"]
        np.testing.assert_allclose(
            image.boxes["Effusion"], [[799, 666, 138, 95], [100, 600, 100, 100]]
        )
        mask = image.mask("Effusion")
        assert mask.shape == (1024, 1024) and mask[620, 150] and mask[700, 850] and not mask[10, 10]
        assert ann["36199.png"].boxes == {} and ann.mask_classes == ("Effusion",)

    def test_chexlocalize(self, chexlocalize_file):
        path, seg = chexlocalize_file
        ann = read_chexlocalize(path)
        assert ann.classes == CHEXLOCALIZE_CLASSES
        image = ann["patient64541_study1_view1_frontal"]
        assert image.patient == "patient64541" and (image.height, image.width) == (60, 40)
        assert list(image.masks) == ["Cardiomegaly"]  # empty masks: annotated, absent
        np.testing.assert_array_equal(image.mask("Cardiomegaly"), seg)
        assert ann["patient64542_study1_view2_lateral"].masks == {}

    @pytest.mark.parametrize("reader", ["nih", "vindr", "chestx-det", "rsna", "chexlocalize"])
    def test_coco_round_trip(self, tmp_path, chexlocalize_file, reader):
        paths = {
            "nih": (_write(tmp_path, "BBox_List_2017.csv", NIH_BOXES), {}),
            "vindr": (
                _write(tmp_path, "v.csv", VINDR),
                {"sizes": _write(tmp_path, "s.csv", VINDR_SIZES)},
            ),
            "chestx-det": (_write(tmp_path, "c.json", json.dumps(CHESTX_DET)), {}),
            "rsna": (_write(tmp_path, "r.csv", RSNA), {}),
            "chexlocalize": (chexlocalize_file[0], {}),
        }
        path, options = paths[reader]
        original = read_annotations(path, reader, **options)
        again = read_coco(write_coco(original, tmp_path / "neutral.json"))
        assert again.classes == original.classes and len(again) == len(original)
        for image in original:
            other = again[image.name]
            assert (other.patient, other.height, other.width) == (
                image.patient,
                image.height,
                image.width,
            )
            assert set(other.boxes) == set(image.boxes) and set(other.masks) == set(image.masks)
            for label, boxes in image.boxes.items():
                np.testing.assert_allclose(other.boxes[label], boxes)
                assert other.readers[label] == image.readers[label]
            for label in image.masks:
                np.testing.assert_array_equal(other.mask(label), image.mask(label))

    def test_coco_polygons_and_uncompressed_rle(self, tmp_path):
        mask = np.zeros((20, 30), np.uint8)
        mask[2:5, 3:9] = 1
        counts = []  # column-major run lengths, starting with zeros
        flat, value, run = mask.flatten(order="F"), 0, 0
        for pixel in flat:
            if pixel != value:
                counts.append(run)
                value, run = pixel, 0
            run += 1
        counts.append(run)
        data = {
            "images": [
                {"id": 5, "file_name": "x.png", "height": 20, "width": 30, "patient_id": "p"}
            ],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 5,
                    "category_id": 2,
                    "segmentation": {"size": [20, 30], "counts": counts},
                    "iscrowd": 1,
                },
                {
                    "id": 2,
                    "image_id": 5,
                    "category_id": 3,
                    "segmentation": [[10, 10, 20, 10, 20, 15, 10, 15]],
                    "bbox": [10, 10, 10, 5],
                },
            ],
            "categories": [{"id": 2, "name": "A"}, {"id": 3, "name": "B"}],
        }
        ann = read_coco(_write(tmp_path, "c.json", json.dumps(data)))
        np.testing.assert_array_equal(ann["x.png"].mask("A"), mask)
        assert ann["x.png"].mask("B")[12, 15] == 1 and ann["x.png"].boxes["B"].tolist() == [
            [10, 10, 10, 5]
        ]


BAD_FILES = [
    pytest.param(
        "nih",
        "BBox_List_2017.csv",
        "Image Index,Finding Label\nx.png,Mass\n",
        "line 1",
        id="nih-no-box-columns",
    ),
    pytest.param(
        "nih",
        "BBox_List_2017.csv",
        NIH_BOXES + "a.png,Mass,1,2,abc,4,,,\n",
        "line 5",
        id="nih-bad-number",
    ),
    pytest.param(
        "nih",
        "BBox_List_2017.csv",
        NIH_BOXES + "a.png,Mass,1000,2,100,4,,,\n",
        "line 5",
        id="nih-outside-frame",
    ),
    pytest.param(
        "nih",
        "BBox_List_2017.csv",
        NIH_BOXES + "a.png,Tumour,1,2,3,4,,,\n",
        "line 5",
        id="nih-unknown-finding",
    ),
    pytest.param(
        "nih",
        "BBox_List_2017.csv",
        NIH_BOXES + "a.png,Mass,1,2,-3,4,,,\n",
        "line 5",
        id="nih-negative-size",
    ),
    pytest.param(
        "rsna", "stage_2_train_labels.csv", RSNA + "z,1,2,3,4,2\n", "line 5", id="rsna-bad-target"
    ),
    pytest.param(
        "rsna",
        "stage_2_train_labels.csv",
        RSNA + "z,1,2,3,4,0\n",
        "line 5",
        id="rsna-negative-with-box",
    ),
    pytest.param(
        "chestx-det",
        "c.json",
        json.dumps([{"file_name": "a.png", "syms": ["Mass"], "boxes": [], "polygons": []}]),
        "entry 0",
        id="chestx-det-lengths",
    ),
    pytest.param(
        "chestx-det",
        "c.json",
        '[{"file_name": "a.png", "syms": ["Mass"], "boxes": [[1, 2, 3, 4]], "polygons": [[[1, 2]]]}]',
        "entry 0",
        id="chestx-det-short-polygon",
    ),
    pytest.param("chestx-det", "c.json", "[{]", "not valid JSON", id="chestx-det-bad-json"),
    pytest.param(
        "chexlocalize",
        "g.json",
        '{"p1_study1": {"Edema": {"size": [10, 10], "counts": 5}}}',
        "'Edema'",
        id="chexlocalize-bad-counts",
    ),
    pytest.param(
        "chexlocalize",
        "g.json",
        '{"p1_study1": {"Edema": {"size": [10], "counts": ""}}}',
        "'Edema'",
        id="chexlocalize-bad-size",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [], "annotations": [{"image_id": 3}], "categories": [{"id": 1, "name": "A"}]}',
        "annotations[0]",
        id="coco-unknown-image",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [{"id": 1, "file_name": "a", "height": 1e9, "width": 5}], "annotations": [], "categories": [{"id": 1, "name": "A"}]}',
        "images[0]",
        id="coco-huge-frame",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [{"id": 1, "file_name": "a", "height": 9000, "width": 9000}], "annotations": [], "categories": [{"id": 1, "name": "A"}]}',
        "images[0]",
        id="coco-frame-over-8192",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [{"id": 1, "file_name": "a", "height": 10, "width": 10}], "annotations": [{"image_id": 1, "category_id": 1, "segmentation": {"size": [10, 10], "counts": [5]}}], "categories": [{"id": 1, "name": "A"}]}',
        "annotations[0]",
        id="coco-short-rle",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [{"id": 1, "file_name": "a", "height": 1e999, "width": 5}], '
        '"annotations": [], "categories": [{"id": 1, "name": "A"}]}',
        "images[0]",
        id="coco-infinite-height",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [{"id": 1, "file_name": "a", "height": 10, "width": 10}], "annotations": '
        '[{"image_id": 1, "category_id": 1, "bbox": [' + "9" * 400 + ", 1, 2, 2]}], "
        '"categories": [{"id": 1, "name": "A"}]}',
        "annotations[0]",
        id="coco-400-digit-box",
    ),
    pytest.param(
        "coco",
        "c.json",
        '{"images": [{"id": [1], "file_name": "a", "height": 10, "width": 10}], '
        '"annotations": [], "categories": [{"id": 1, "name": "A"}]}',
        "images[0]",
        id="coco-list-id",
    ),
    pytest.param(
        "chexlocalize",
        "g.json",
        '{"p1_study1": {"Edema": {"size": [1e999, 10], "counts": ""}}}',
        "'Edema'",
        id="chexlocalize-infinite-size",
    ),
]


@pytest.mark.parametrize(("format", "name", "text", "where"), BAD_FILES)
def test_malformed_files_are_refused_by_name(tmp_path, format, name, text, where):
    path = _write(tmp_path, name, text)
    with pytest.raises(AnnotationError) as error:
        read_annotations(path, format)
    assert str(path) in str(error.value) and where in str(error.value)


@pytest.mark.parametrize("row", ["img1,inf,100", "img1,1e999,100", "img1,nan,100"])
def test_vindr_sizes_that_are_not_sizes_are_refused_by_line(tmp_path, row):
    sizes = _write(tmp_path, "sizes.csv", "image_id,height,width\n" + row + "\n")
    with pytest.raises(AnnotationError) as error:
        read_vindr(_write(tmp_path, "a.csv", VINDR), sizes=sizes)
    assert f"{sizes}, line 2" in str(error.value)


def test_vindr_without_sizes_says_what_it_needs(tmp_path):
    with pytest.raises(AnnotationError, match="sizes"):
        read_vindr(_write(tmp_path, "a.csv", VINDR))


def test_unknown_format_and_option(tmp_path):
    with pytest.raises(AnnotationError, match="expected one of"):
        read_annotations(tmp_path, "pascal")
    with pytest.raises(AnnotationError, match="do not fit"):
        read_annotations(_write(tmp_path, "r.csv", RSNA), "rsna", sizes={})


VALID = {
    "nih": ("BBox_List_2017.csv", NIH_BOXES),
    "rsna": ("stage_2_train_labels.csv", RSNA),
    "chestx-det": ("c.json", json.dumps(CHESTX_DET)),
    "coco": (
        "c.json",
        '{"images": [{"id": 1, "file_name": "a", "height": 10, "width": 10}], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}], "categories": [{"id": 1, "name": "A"}]}',
    ),
}


VALID["vindr"] = ("train.csv", VINDR)
VALID["chexlocalize"] = (
    "gt_segmentations_val.json",
    json.dumps({"patient1_study1_view1_frontal": {"Cardiomegaly": "MASK"}}),
)
OPTIONS = {
    "vindr": {
        "sizes": {
            "000434271f63a053c4128a0ba6352c7f": (3072, 3072),
            "9a5094b2563a1ef3ff50dc5c7ff71345": (2336, 2080),
        }
    }
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
@pytest.mark.parametrize("format", sorted(VALID))
def test_fuzzed_files_give_only_annotation_errors(tmp_path, format, data):
    name, text = VALID[format]
    mask = np.zeros((12, 9), np.uint8)
    mask[2:6, 3:7] = 1
    text = text.replace('"MASK"', json.dumps(_rle(mask)))
    raw = bytearray(text.encode())
    if data.draw(st.booleans()):
        raw = bytearray(data.draw(st.binary(max_size=200)))
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            position = data.draw(st.integers(0, len(raw) - 1))
            raw[position] = data.draw(st.integers(0, 255))
    path = tmp_path / name
    path.write_bytes(bytes(raw))
    error = None
    try:
        read_annotations(path, format, **OPTIONS.get(format, {}))
    except AnnotationError as raised:  # anything else fails the test
        error = raised
    assert error is None or str(path) in str(error)


def test_rle_decodes_what_it_encodes():
    mask = (np.random.default_rng(0).random((33, 17)) > 0.6).astype(np.uint8)
    np.testing.assert_array_equal(decode(encode(mask)), mask)


def test_written_files_get_the_umask_permissions(tmp_path):
    import os

    from cam_boxes_iobb._atomic import write_atomically

    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "out.json", lambda handle: handle.write("{}"))
    finally:
        os.umask(previous)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644


def test_the_writer_fsyncs_the_file_and_its_folder(tmp_path, monkeypatch):
    """A rename survives a power cut only once its folder is fsync-ed too."""
    import os

    from cam_boxes_iobb._atomic import write_atomically

    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomically(tmp_path / "score.json", lambda handle: handle.write("{}"))
    assert synced[-1] == str(tmp_path) and len(synced) == 2
