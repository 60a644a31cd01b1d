from importlib import resources

import numpy as np
import pytest

from cxr14_data import CLASSES, MetadataError, read_bbox_list, read_data_entry
from cxr14_data.nih_statistics import SOURCES, nih_boxes, nih_label_sets, tabulate_nih

SHIPPED = {
    name: resources.files("cxr14_data").joinpath("data", name).read_text() for name in SOURCES
}


class TestShippedTables:
    def test_rebuilt_from_the_real_files_byte_for_byte(self, real_metadata):
        assert tabulate_nih(real_metadata) == SHIPPED

    def test_boxes_are_the_real_rows(self, real_metadata):
        real = read_bbox_list(real_metadata / "BBox_List_2017.csv.gz")
        shipped = nih_boxes()
        assert sum(len(rows) for rows in shipped.values()) == len(real) == 984
        for label, rows in shipped.items():
            expected = np.array([b.xywh for b in real if b.label == label])
            np.testing.assert_allclose(rows, expected, atol=0.005)

    def test_label_sets_count_every_image(self, real_metadata):
        records = read_data_entry(real_metadata / "Data_Entry_2017_v2020.csv.gz")
        table = dict(nih_label_sets())
        assert sum(table.values()) == len(records) == 112_120
        several = sum(count for labels, count in table.items() if len(labels) > 1)
        assert several == sum(len(r.labels) > 1 for r in records) == 20_796
        for labels in table:
            assert list(labels) == sorted(labels, key=CLASSES.index)

    def test_other_files_are_refused_by_checksum(self, synthetic_root):
        with pytest.raises(MetadataError, match=r"BBox_List_2017\.csv: not the"):
            tabulate_nih(synthetic_root)

    def test_every_box_inside_the_frame(self):
        for rows in nih_boxes().values():
            assert (rows[:, :2] >= 0).all() and (rows[:, 2:] > 0).all()
            assert (rows[:, 0] + rows[:, 2] <= 1024).all()
            assert (rows[:, 1] + rows[:, 3] <= 1024).all()
