"""cxr14-data and cam-boxes-iobb each read NIH's ``BBox_List_2017.csv`` (a package imports no
sibling, so each has its reader): on the real file they give the same boxes, and the same
malformed rows are refused by both, naming the line.

cam-boxes-iobb also refuses a box outside its frame as it reads; cxr14-data leaves that to the
data set (``box_frame``, ``on_bad_box``), so such a row is not among the shared cases."""

import gzip
import importlib.util
import os
from pathlib import Path

import pytest

from cam_boxes_iobb.annotations import AnnotationError
from cam_boxes_iobb.formats.nih import read_nih
from cxr14_data.labels import UnknownLabelError
from cxr14_data.metadata import MetadataError, read_bbox_list

HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
GOOD = "00013118_008.png,Infiltrate,225.0,547.0,86.5,79.0,,,\n"


def _real_bbox_list(tmp_path: Path) -> Path:
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CXR14_REQUIRE_REAL_METADATA"):
            pytest.fail("torchxrayvision (the real NIH metadata fixture) is not installed")
        pytest.skip("torchxrayvision not installed: pip install --no-deps torchxrayvision")
    packed = Path(next(iter(spec.submodule_search_locations))) / "data" / "BBox_List_2017.csv.gz"
    target = tmp_path / "BBox_List_2017.csv"
    target.write_bytes(gzip.decompress(packed.read_bytes()))
    return target


def test_both_readers_give_the_same_boxes_of_the_real_file(tmp_path):
    path = _real_bbox_list(tmp_path)
    ours = sorted((b.image_index, b.label, b.x, b.y, b.w, b.h) for b in read_bbox_list(path))
    annotations = read_nih(path)
    theirs = sorted(
        (image.name, label, *map(float, box))
        for image in annotations
        for label, boxes in image.boxes.items()
        for box in boxes
    )
    assert len(ours) == 984 and len({b[0] for b in ours}) == 880
    assert ours == theirs


@pytest.mark.parametrize(
    "row",
    [
        pytest.param("a.png,Mass,x,1,2,3,,,\n", id="not-a-number"),
        pytest.param("a.png,Mass,nan,1,2,3,,,\n", id="nan"),
        pytest.param("a.png,Mass,inf,1,2,3,,,\n", id="inf"),
        pytest.param("a.png,Mass,1,1,0,3,,,\n", id="zero-width"),
        pytest.param("a.png,Mass,1,1,2,-3,,,\n", id="negative-height"),
        pytest.param("a.png,Tumour,1,1,2,3,,,\n", id="unknown-label"),
        pytest.param("a.png,Mass,1,1,2,1e999,,,\n", id="overflowing"),
    ],
)
def test_both_readers_refuse_the_same_rows_naming_the_line(tmp_path, row):
    path = tmp_path / "BBox_List_2017.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises((MetadataError, UnknownLabelError), match="line 3"):
        read_bbox_list(path)
    with pytest.raises(AnnotationError, match="line 3"):
        read_nih(path)
