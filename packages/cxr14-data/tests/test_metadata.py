import gzip
from collections import Counter

import pytest

from cxr14_data import (
    CLASSES,
    MetadataError,
    UnknownLabelError,
    read_bbox_list,
    read_data_entry,
    read_split_list,
)
from cxr14_data.synthetic import BBOX_HEADER, DATA_ENTRY_HEADER

from .conftest import read_first_line

DATA_ENTRY_2020 = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]\n"
)


class TestRealNIHMetadata:
    """The real files, as NIH distributes them, from torchxrayvision's wheel."""

    def test_data_entry_counts(self, real_metadata):
        records = read_data_entry(real_metadata / "Data_Entry_2017_v2020.csv.gz")
        assert len(records) == 112_120
        assert len({r.patient_id for r in records}) == 30_805
        counts = Counter(label for r in records for label in r.labels)
        assert counts == {
            "Infiltration": 19894,
            "Effusion": 13317,
            "Atelectasis": 11559,
            "Nodule": 6331,
            "Mass": 5782,
            "Pneumothorax": 5302,
            "Consolidation": 4667,
            "Pleural_Thickening": 3385,
            "Cardiomegaly": 2776,
            "Emphysema": 2516,
            "Edema": 2303,
            "Fibrosis": 1686,
            "Pneumonia": 1431,
            "Hernia": 227,
        }
        assert sum(1 for r in records if not r.labels) == 60_361
        first = records[0]
        assert (first.image_index, first.labels, first.original_width, first.original_height) == (
            "00000001_000.png",
            ("Cardiomegaly",),
            2682,
            2749,
        )

    def test_bbox_counts_and_infiltrate(self, real_metadata):
        boxes = read_bbox_list(real_metadata / "BBox_List_2017.csv.gz")
        assert len(boxes) == 984
        assert len({b.image_index for b in boxes}) == 880
        counts = Counter(b.label for b in boxes)
        assert counts["Infiltration"] == 123 and "Infiltrate" not in counts
        assert set(counts) <= set(CLASSES[:8])
        assert all(b.x >= 0 and b.y >= 0 and b.x + b.w <= 1025 and b.y + b.h <= 1025 for b in boxes)

    def test_synthetic_headers_match_the_real_files(self, real_metadata):
        real_entry = read_first_line(real_metadata / "Data_Entry_2017_v2020.csv.gz")
        assert DATA_ENTRY_HEADER.rstrip(",") == real_entry
        assert read_first_line(real_metadata / "BBox_List_2017.csv.gz") == BBOX_HEADER

    def test_folder_lookup_finds_gz(self, real_metadata):
        assert len(read_bbox_list(real_metadata)) == 984


class TestQuirks:
    def test_2017_trailing_column_and_2020_layout(self, tmp_path):
        row = "00000003_001.png,Hernia|Infiltration,1,3,74,F,PA,2500,2048,0.168,0.168"
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "Data_Entry_2017.csv").write_text(DATA_ENTRY_HEADER + "\n" + row + ",\n")
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "Data_Entry_2017_v2020.csv").write_text(DATA_ENTRY_2020 + row + "\n")
        a, b = read_data_entry(tmp_path / "a"), read_data_entry(tmp_path / "b")
        assert a == b
        assert a[0].labels == ("Hernia", "Infiltration")
        assert (a[0].original_width, a[0].original_height, a[0].age) == (2500, 2048, 74)

    def test_gzip_file(self, tmp_path):
        path = tmp_path / "Data_Entry_2017.csv.gz"
        with gzip.open(path, "wt") as handle:
            handle.write(DATA_ENTRY_2020 + "x.png,No Finding,0,9,30,M,AP,1,1,1,1\n")
        assert read_data_entry(tmp_path)[0].labels == ()

    def test_bbox_with_trailing_columns(self, tmp_path):
        path = tmp_path / "BBox_List_2017.csv"
        path.write_text(BBOX_HEADER + "\nx.png,Infiltrate,1.5,2,3,4,,,\ny.png,Mass,0,0,10,10\n")
        boxes = read_bbox_list(path)
        assert [b.label for b in boxes] == ["Infiltration", "Mass"]
        assert boxes[0].xywh == (1.5, 2.0, 3.0, 4.0)


class TestErrors:
    def test_missing_csv(self, tmp_path):
        with pytest.raises(MetadataError, match=r"Data_Entry_2017_v2020.csv.*Data_Entry_2017.csv"):
            read_data_entry(tmp_path)
        with pytest.raises(MetadataError, match="not found"):
            read_data_entry(tmp_path / "nope.csv")

    def test_missing_column(self, tmp_path):
        path = tmp_path / "Data_Entry_2017.csv"
        path.write_text("Image Index,Finding Labels,Age\nx.png,Mass,3\n")
        with pytest.raises(MetadataError, match=r"Data_Entry_2017.csv lacks.*'Patient ID'"):
            read_data_entry(path)

    def test_unknown_label_names_file_and_line(self, tmp_path):
        path = tmp_path / "Data_Entry_2017.csv"
        path.write_text(
            DATA_ENTRY_2020 + "x.png,Mass,0,1,3,M,PA,1,1,1,1\ny.png,Tumour,0,1,3,M,PA,1,1,1,1\n"
        )
        with pytest.raises(UnknownLabelError, match=r"'Tumour' in .*Data_Entry_2017.csv, line 3"):
            read_data_entry(path)

    def test_bad_number_names_line(self, tmp_path):
        path = tmp_path / "Data_Entry_2017.csv"
        path.write_text(DATA_ENTRY_2020 + "x.png,Mass,0,one,3,M,PA,1,1,1,1\n")
        with pytest.raises(MetadataError, match="line 2"):
            read_data_entry(path)

    @pytest.mark.parametrize(
        ("row", "match"),
        [
            ("x.png,Mass,1,2,abc,4", r"line 2: bad box"),
            ("x.png,Mass,1,2,0,4", r"line 2: box with non-positive size"),
            ("x.png,Tumour,1,2,3,4", r"'Tumour' in .*line 2"),
        ],
    )
    def test_bad_bbox_rows(self, tmp_path, row, match):
        path = tmp_path / "BBox_List_2017.csv"
        path.write_text(BBOX_HEADER + "\n" + row + "\n")
        with pytest.raises(ValueError, match=match):
            read_bbox_list(path)

    def test_empty_file(self, tmp_path):
        path = tmp_path / "Data_Entry_2017.csv"
        path.write_text("")
        with pytest.raises(MetadataError, match="empty"):
            read_data_entry(path)

    def test_missing_split_list(self, tmp_path):
        with pytest.raises(MetadataError, match="test_list.txt"):
            read_split_list(tmp_path / "test_list.txt")
