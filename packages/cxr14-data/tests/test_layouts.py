"""The published layouts and the uncertainty policies: the real CheXpert ``train.csv`` shipped in
torchxrayvision's wheel counted independently (csv.DictReader), hand-worked policy cases, and
bad rows named by file and line."""

from __future__ import annotations

import csv
import gzip
import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxr14_data import MetadataError
from cxr14_data.layouts import (
    CHEXPERT_CLASSES,
    LATERAL,
    RSNA_CLASSES,
    SIIM_CLASSES,
    VINDR_CLASSES,
    BlankPolicy,
    UncertaintyPolicy,
    apply_policy,
    counterparts,
    read_chexpert,
    read_mimic,
    read_rsna,
    read_siim,
    read_vindr_kaggle,
    read_vindr_physionet,
    vocabulary,
)

HEADER = "Path,Sex,Age,Frontal/Lateral,AP/PA," + ",".join(CHEXPERT_CLASSES)
ROW = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,"


@pytest.fixture(scope="module")
def chexpert_train(real_metadata):
    return real_metadata / "chexpert_train.csv.gz"


@pytest.fixture(scope="module")
def chexpert_table(chexpert_train):
    return read_chexpert(chexpert_train)


@pytest.fixture(scope="module")
def chexpert_rows(chexpert_train):
    with gzip.open(chexpert_train, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


class TestRealCheXpert:
    def test_rows_patients_and_views_match_an_independent_count(
        self, chexpert_table, chexpert_rows
    ):
        assert len(chexpert_table) == len(chexpert_rows) == 223_414
        patients = {re.search(r"patient\d+", r["Path"]).group() for r in chexpert_rows}
        assert len(set(chexpert_table.patients)) == len(patients) == 64_540
        laterals = sum(r["Frontal/Lateral"] == "Lateral" for r in chexpert_rows)
        assert chexpert_table.views.count(LATERAL) == laterals
        frontal = Counter(r["AP/PA"] for r in chexpert_rows if r["Frontal/Lateral"] == "Frontal")
        assert len(chexpert_table.frontal()) == frontal["AP"] + frontal["PA"]
        assert set(chexpert_table.splits) == {"train"}

    @pytest.mark.parametrize("column", range(len(CHEXPERT_CLASSES)))
    def test_every_label_value_matches_an_independent_count(
        self, chexpert_table, chexpert_rows, column
    ):
        name = CHEXPERT_CLASSES[column]
        expected = Counter(r[name] for r in chexpert_rows)
        values = chexpert_table.labels[:, column]
        got = {
            "1.0": int((values == 1).sum()),
            "0.0": int((values == 0).sum()),
            "-1.0": int((values == -1).sum()),
            "": int(np.isnan(values).sum()),
        }
        assert {k: v for k, v in got.items() if v} == dict(expected)


class TestBadRows:
    @pytest.mark.parametrize(
        ("row", "named"),
        [
            (ROW + ",".join(["2.0"] * 14), "column 'No Finding' is '2.0'"),
            (ROW + ",".join(["yes"] * 14), "column 'No Finding' is 'yes'"),
            (
                ROW.replace("patient00001/", "") + ",".join(["1.0"] * 14),
                "is not <...>/{train,valid,test}/patient<N>",
            ),
            (ROW.replace("Frontal", "Oblique") + ",".join(["1.0"] * 14), "Frontal/Lateral"),
        ],
    )
    def test_a_bad_row_is_named_by_file_and_line(self, tmp_path, row, named):
        path = tmp_path / "train.csv"
        path.write_text(f"{HEADER}\n{ROW}{','.join(['1.0'] * 14)}\n{row}\n")
        with pytest.raises(MetadataError, match=re.escape(f"{path}, line 3: ")) as refused:
            read_chexpert(path)
        assert named in str(refused.value)

    def test_a_missing_column_is_named(self, tmp_path):
        path = tmp_path / "train.csv"
        path.write_text(HEADER.replace(",Edema", "") + "\n" + ROW + ",".join(["1.0"] * 13) + "\n")
        with pytest.raises(MetadataError, match=r"lacks the column\(s\) \['Edema'\]"):
            read_chexpert(path)

    def test_a_folder_reads_both_files(self, tmp_path):
        for split in ("train", "valid"):
            row = ROW.replace("/train/", f"/{split}/") + ",".join(["0.0"] * 14)
            (tmp_path / f"{split}.csv").write_text(f"{HEADER}\n{row}\n")
        table = read_chexpert(tmp_path)
        assert table.splits == ["train", "valid"] and table.patients == ["patient00001"] * 2


def _policy_by_hand(value: float, uncertain: str, blank: str) -> tuple[float, bool]:
    """One label, written out from Irvin et al.'s definitions."""
    if value == 1:
        return 1.0, True
    if value == 0:
        return 0.0, True
    if math.isnan(value):
        return 0.0, blank == "negative"
    return (1.0 if uncertain == "u-ones" else 0.0), uncertain != "u-ignore"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([1.0, 0.0, -1.0, math.nan]), min_size=1, max_size=40),
    st.sampled_from(list(UncertaintyPolicy)),
    st.sampled_from(list(BlankPolicy)),
)
def test_policies_match_their_definitions(values, uncertain, blank):
    labels = np.asarray(values).reshape(-1, 1)
    targets, mask = apply_policy(labels, uncertain, blank)
    expected = [_policy_by_hand(v, uncertain, blank) for v in values]
    assert targets[:, 0].tolist() == [t for t, _ in expected]
    assert mask[:, 0].tolist() == [m for _, m in expected]
    assert targets.dtype == np.float32 and mask.dtype == bool


def test_a_label_that_is_none_of_the_four_is_refused():
    with pytest.raises(ValueError, match=r"found \[2.0\]"):
        apply_policy(np.array([[2.0]]))
    with pytest.raises(ValueError, match="is not a valid UncertaintyPolicy"):
        apply_policy(np.array([[1.0]]), "u-maybe")


def _csv_rows(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return list(csv.reader(handle))


class TestRealRsnaVindrSiim:
    """The real files in torchxrayvision's wheel, counted with csv.reader in the test."""

    def test_rsna_images_and_positives(self, real_metadata, tmp_path):
        import zipfile

        with zipfile.ZipFile(real_metadata / "kaggle_stage_2_train_labels.csv.zip") as archive:
            (name,) = archive.namelist()
            path = tmp_path / "stage_2_train_labels.csv"
            path.write_bytes(archive.read(name))
        rows = _csv_rows(path)[1:]
        table = read_rsna(path)
        targets = {r[0]: r[5] for r in rows}
        assert len(table) == len(targets) == 26_684
        assert int(table.labels.sum()) == sum(v == "1" for v in targets.values()) == 6_012
        assert table.patients is None and table.groups == table.image_ids
        assert table.paths[0] == f"stage_2_train_images/{table.image_ids[0]}.dcm"

    def test_rsna_views_from_the_real_dicom_headers(self, real_metadata, tmp_path):
        headers = _csv_rows(real_metadata / "kaggle_stage_2_train_images_dicom_headers.csv.gz")
        column = {name: i for i, name in enumerate(headers[0])}
        views = {r[column["PatientID"]]: r[column["ViewPosition"]] for r in headers[1:]}
        path = tmp_path / "stage_2_train_labels.csv"
        path.write_text(
            "patientId,x,y,width,height,Target\n"
            + "".join(f"{i},,,,,0\n" for i in list(views)[:50])
        )
        table = read_rsna(path, views)
        assert table.views == [views[i] for i in table.image_ids]
        assert set(table.views) <= {"AP", "PA"} and len(table.frontal()) == 50

    @pytest.mark.parametrize("rule", ["any", "majority"])
    def test_vindr_images_and_each_class_by_its_rule(self, real_metadata, rule):
        path = real_metadata / "vinbigdata-train.csv.gz"
        rows = _csv_rows(path)[1:]
        readers, marks = {}, {}
        for image, _name, class_id, reader, *_ in rows:
            readers.setdefault(image, set()).add(reader)
            marks.setdefault((image, int(class_id)), set()).add(reader)
        table = read_vindr_kaggle(path, rule)
        assert len(table) == len(readers) == 15_000
        assert {len(r) for r in readers.values()} == {3}  # three readers per training image
        need = 1 if rule == "any" else 2
        for k, name in enumerate(table.classes):
            expected = sum(1 for (_, c), by in marks.items() if c == k and len(by) >= need)
            assert int(table.labels[:, k].sum()) == expected, name

    def test_siim_images_and_positives(self, real_metadata):
        path = real_metadata / "siim-pneumothorax-train-rle.csv.gz"
        rows = _csv_rows(path)[1:]
        positive = {}
        for image, runs in rows:
            positive[image] = positive.get(image, False) or runs.strip() != "-1"
        table = read_siim(path)
        assert len(table) == len(positive)
        assert int(table.labels.sum()) == sum(positive.values())

    def test_a_bad_vindr_row_is_named(self, tmp_path):
        path = tmp_path / "train.csv"
        header = "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n"
        path.write_text(header + "a,Cardiomegaly,4,R1,1,1,2,2\n")
        with pytest.raises(
            MetadataError, match=r"line 2: class_name 'Cardiomegaly' is not class 4"
        ):
            read_vindr_kaggle(path)

    def test_an_rsna_image_with_two_targets_is_named(self, tmp_path):
        path = tmp_path / "stage_2_train_labels.csv"
        path.write_text("patientId,x,y,width,height,Target\na,1,1,2,2,1\na,,,,,0\n")
        with pytest.raises(MetadataError, match="line 3: a is listed with Target 0 and 1"):
            read_rsna(path)


def _write_mimic(folder, metadata_rows, label_rows, split_rows):
    """Files in MIMIC-CXR-JPG's published layout (Johnson et al. 2019; PhysioNet's
    mimic-cxr-jpg "Data Description"): metadata per image, labels per study, split per image."""
    (folder / "mimic-cxr-2.0.0-metadata.csv").write_text(
        "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n"
        + "".join(f"{d},{s},{t},CHEST (PA AND LAT),{v},3056,2544\n" for d, s, t, v in metadata_rows)
    )
    (folder / "mimic-cxr-2.0.0-chexpert.csv").write_text(
        "subject_id,study_id,"
        + ",".join(sorted(CHEXPERT_CLASSES))
        + "\n"
        + "".join(f"{s},{t},{values}\n" for s, t, values in label_rows)
    )
    (folder / "mimic-cxr-2.0.0-split.csv").write_text(
        "dicom_id,study_id,subject_id,split\n"
        + "".join(f"{d},{t},{s},{split}\n" for d, s, t, split in split_rows)
    )


class TestMimic:
    def test_images_take_their_studys_labels_and_split(self, tmp_path):
        # the label file orders its columns alphabetically; the table keeps CheXpert's order
        ordered = sorted(CHEXPERT_CLASSES)
        values = {name: "" for name in ordered}
        values.update({"Cardiomegaly": "1.0", "Edema": "-1.0", "No Finding": "0.0"})
        _write_mimic(
            tmp_path,
            [("d1", "10000032", "50414267", "PA"), ("d2", "10000032", "50414267", "LATERAL"),
             ("d3", "10000764", "57375967", "AP"), ("d4", "10000898", "50771383", "")],
            [("10000032", "50414267", ",".join(values[n] for n in ordered)),
             ("10000764", "57375967", ",".join("0.0" for _ in ordered))],
            [("d1", "10000032", "50414267", "train"), ("d2", "10000032", "50414267", "train"),
             ("d3", "10000764", "57375967", "test"), ("d4", "10000898", "50771383", "validate")],
        )  # fmt: skip
        table = read_mimic(tmp_path)
        assert table.image_ids == ["d1", "d2", "d3"] and table.splits == ["train", "train", "test"]
        assert table.paths[0] == "files/p10/p10000032/s50414267/d1.jpg"
        assert table.patients == ["10000032", "10000032", "10000764"]
        assert table.views == ["PA", "LATERAL", "AP"] and len(table.frontal()) == 2
        row = dict(zip(CHEXPERT_CLASSES, table.labels[0], strict=True))
        assert row["Cardiomegaly"] == 1 and row["Edema"] == -1 and row["No Finding"] == 0
        assert np.isnan(row["Fracture"])
        assert table.notes == (
            "1 images left out: their study has no row in mimic-cxr-2.0.0-chexpert.csv",
        )

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            ("label", "column 'Atelectasis' is 'maybe'"),
            ("split", "split 'dev' is not train, validate or test"),
            ("nosplit", "d1 has no row in mimic-cxr-2.0.0-split.csv"),
        ],
    )
    def test_a_bad_row_is_named(self, tmp_path, change, named):
        first = "maybe" if change == "label" else "0.0"
        split = "dev" if change == "split" else "train"
        _write_mimic(
            tmp_path,
            [("d1", "10000032", "50414267", "PA")],
            [("10000032", "50414267", ",".join([first] + ["0.0"] * 13))],
            [] if change == "nosplit" else [("d1", "10000032", "50414267", split)],
        )
        with pytest.raises(MetadataError, match=re.escape(named)):
            read_mimic(tmp_path)


class TestVocabulary:
    """The class vocabulary is data (``data/vocabulary.csv``); these hold it to the readers."""

    @pytest.mark.parametrize(
        ("name", "classes"),
        [
            ("chexpert", CHEXPERT_CLASSES),
            ("vindr", VINDR_CLASSES),
            ("rsna", RSNA_CLASSES),
            ("siim", SIIM_CLASSES),
        ],
    )
    def test_every_class_of_a_reader_is_in_it(self, name, classes):
        names = {e.name for e in vocabulary() if e.set == name}
        assert names == set(classes)

    def test_nih_s_fourteen_are_in_it(self):
        from cxr14_data import CLASSES

        assert {e.name for e in vocabulary() if e.set == "nih"} == set(CLASSES)

    def test_every_row_names_its_source(self):
        assert all(e.source.strip() for e in vocabulary())

    def test_chexpert_to_nih_by_hand(self):
        found = counterparts("chexpert", "nih")
        assert found.pairs == {
            "Atelectasis": "Atelectasis",
            "Cardiomegaly": "Cardiomegaly",
            "Consolidation": "Consolidation",
            "Edema": "Edema",
            "Effusion": "Pleural Effusion",
            "Pneumothorax": "Pneumothorax",
            "Pneumonia": "Pneumonia",
        }
        assert found.near["Nodule"] == (("Lung Lesion",), "Lung lesion: part, same")
        assert set(found.target_only) == {"Infiltration", "Fibrosis", "Emphysema", "Hernia"}
        assert "Support Devices" in found.source_only and "Lung Opacity" in found.source_only
        assert counterparts("mimic", "nih") == found  # MIMIC's labels are CheXpert's

    def test_chexpert_pairs_every_chexlocalize_class(self):
        """Training on CheXpert, scored on CheXlocalize's masks: all ten pathologies pair."""
        chexlocalize = {  # Saporta et al. 2022, Table 1 (root tests: cam_boxes_iobb's list)
            "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Airspace Opacity",
            "Edema", "Consolidation", "Atelectasis", "Pneumothorax", "Pleural Effusion",
            "Support Devices",
        }  # fmt: skip
        found = counterparts("chexpert", "chexlocalize")
        assert set(found.pairs) == chexlocalize and not found.near and not found.target_only

    def test_every_class_is_paired_near_or_listed(self):
        sets = ("nih", "chexpert", "vindr", "rsna", "siim", "chexlocalize")
        for source in sets:
            for target in sets:
                found = counterparts(source, target)
                target_names = {e.name for e in vocabulary() if e.set == target}
                assert set(found.pairs) | set(found.near) | set(found.target_only) == target_names

    def test_an_unknown_set_is_named(self):
        with pytest.raises(ValueError, match="unknown data set 'padchest'"):
            counterparts("padchest", "nih")


#: The 28 labels of VinDr-CXR's PhysioNet ``image_labels_*.csv`` (Nguyen et al. 2022, Scientific
#: Data, "Data Records": 22 local labels, here in cam_boxes_iobb's VINDR_CLASSES order, then the 6
#: global ones and No finding; the reader takes the columns in whatever order the header has).
PHYSIONET_LABELS = [
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Clavicle fracture",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Enlarged PA",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Lung cavity",
    "Lung cyst",
    "Mediastinal shift",
    "Nodule/Mass",
    "Other lesion",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
    "Rib fracture",
    "COPD",
    "Lung tumor",
    "Pneumonia",
    "Tuberculosis",
    "Other disease",
    "No finding",
]


def _physionet(folder, train_rows, test_rows, header=None):
    """``annotations/image_labels_{train,test}.csv`` as the release describes them: image_id,
    rad_ID, then a 0/1 column per label; three readers per training image, one consensus row
    per test image."""
    annotations = folder / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    columns = ",".join(["image_id", "rad_ID", *(header or PHYSIONET_LABELS)])
    for name, rows in (("train", train_rows), ("test", test_rows)):
        lines = [f"{image},{reader},{','.join(map(str, marks))}" for image, reader, marks in rows]
        (annotations / f"image_labels_{name}.csv").write_text("\n".join([columns, *lines]) + "\n")
    return folder


def _marks(*names):
    return [int(name in names) for name in PHYSIONET_LABELS]


class TestVindrPhysionet:
    def test_readers_are_folded_by_the_rule_and_the_published_split_kept(self, tmp_path):
        train = [
            ("a", "R1", _marks("Cardiomegaly", "Pneumonia")),
            ("a", "R2", _marks("Cardiomegaly")),
            ("a", "R3", _marks("No finding")),
            ("b", "R4", _marks("No finding")),
            ("b", "R5", _marks("No finding")),
            ("b", "R6", _marks("Nodule/Mass")),
        ]
        test = [("c", "R8", _marks("Pleural effusion"))]
        folder = _physionet(tmp_path, train, test)
        for rule, expected_a in (
            ("majority", {"Cardiomegaly"}),
            ("any", {"Cardiomegaly", "Pneumonia", "No finding"}),
        ):
            table = read_vindr_physionet(folder, rule)
            assert table.classes == tuple(PHYSIONET_LABELS) and table.image_ids == ["a", "b", "c"]
            assert table.splits == ["train", "train", "test"] and table.patients is None
            assert table.paths == ["train/a.dicom", "train/b.dicom", "test/c.dicom"]
            row = dict(zip(PHYSIONET_LABELS, table.labels[0], strict=True))
            assert {name for name, v in row.items() if v} == expected_a
        assert table.labels[2, PHYSIONET_LABELS.index("Pleural effusion")] == 1

    def test_a_bad_value_and_an_image_in_both_files_are_named(self, tmp_path):
        bad = _marks("Edema")
        bad[3] = 2
        with pytest.raises(
            MetadataError, match=r"image_labels_train.csv, line 2: label 'Cardiomegaly' is '2'"
        ):
            read_vindr_physionet(_physionet(tmp_path / "x", [("a", "R1", bad)], []))
        folder = _physionet(tmp_path / "y", [("a", "R1", _marks())], [("a", "R8", _marks())])
        with pytest.raises(MetadataError, match="both the train and the test file"):
            read_vindr_physionet(folder)

    def test_a_consensus_file_without_readers_reads_one_row_per_image(self, tmp_path):
        folder = _physionet(tmp_path, [("a", "R1", _marks("Edema"))], [])
        header = ",".join(["image_id", *PHYSIONET_LABELS])
        row = ",".join(["c", *map(str, _marks("Pneumonia"))])
        (folder / "annotations" / "image_labels_test.csv").write_text(f"{header}\n{row}\n")
        table = read_vindr_physionet(folder)
        assert (
            table.image_ids == ["a", "c"]
            and table.labels[1, PHYSIONET_LABELS.index("Pneumonia")] == 1
        )

    def test_files_without_a_header_are_named(self, tmp_path):
        folder = _physionet(tmp_path, [], [])
        for name in ("image_labels_train.csv", "image_labels_test.csv"):
            (folder / "annotations" / name).write_text("")
        with pytest.raises(MetadataError, match="image_labels_train.csv is empty"):
            read_vindr_physionet(folder)

    def test_test_labels_other_than_trains_are_refused(self, tmp_path):
        folder = _physionet(tmp_path, [("a", "R1", _marks())], [])
        (folder / "annotations" / "image_labels_test.csv").write_text(
            "image_id,rad_ID,Edema\nc,R8,1\n"
        )
        with pytest.raises(MetadataError, match="not those of the train file"):
            read_vindr_physionet(folder)


class TestRsnaDetailedClasses:
    """``stage_2_detailed_class_info.csv`` as the competition's data page describes it
    (``patientId,class``, a row per labels row; classes ``Lung Opacity``, ``No Lung Opacity /
    Not Normal``, ``Normal``), beside the labels."""

    LABELS = "patientId,x,y,width,height,Target\na,1,2,3,4,1\na,5,6,7,8,1\nb,,,,,0\nc,,,,,0\n"

    def test_its_classes_are_counted_in_the_notes(self, tmp_path):
        (tmp_path / "stage_2_train_labels.csv").write_text(self.LABELS)
        (tmp_path / "stage_2_detailed_class_info.csv").write_text(
            "patientId,class\na,Lung Opacity\na,Lung Opacity\nb,Normal\n"
            "c,No Lung Opacity / Not Normal\n"
        )
        table = read_rsna(tmp_path)
        assert table.labels[:, 0].tolist() == [1.0, 0.0, 0.0]
        assert table.notes == (
            "stage_2_detailed_class_info.csv: 1 images Normal, 1 No Lung Opacity / Not Normal, "
            "1 Lung Opacity",
        )

    @pytest.mark.parametrize(
        ("row", "named"),
        [
            ("b,Lung Opacity", "line 2: b is 'Lung Opacity' but has Target 0"),
            ("a,Normal", "line 2: a is 'Normal' but has Target 1"),
            ("z,Normal", "line 2: z is 'Normal' but has no row"),
            ("b,Abnormal", "line 2: class 'Abnormal' is not one of"),
        ],
    )
    def test_a_class_that_contradicts_target_is_named(self, tmp_path, row, named):
        (tmp_path / "stage_2_train_labels.csv").write_text(self.LABELS)
        (tmp_path / "stage_2_detailed_class_info.csv").write_text(f"patientId,class\n{row}\n")
        with pytest.raises(MetadataError, match=re.escape(named)):
            read_rsna(tmp_path)
