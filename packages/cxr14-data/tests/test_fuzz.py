"""Arbitrary bytes and rows for the metadata readers, arbitrary floats for the box functions:
every input gives a result or a named error, never another exception."""

import contextlib
import math

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cxr14_data import (
    MetadataError,
    UnknownLabelError,
    box_in_frame,
    read_bbox_list,
    read_data_entry,
    read_split_list,
    rescale_boxes,
)
from cxr14_data.synthetic import BBOX_HEADER, DATA_ENTRY_HEADER

NAMED = (MetadataError, UnknownLabelError)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["Mass", "Infiltrate", "No Finding", "nan", "inf", "-1", "1e309", "0"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**6), 10**6).map(str),
)
rows = st.lists(
    st.one_of(st.lists(cells, max_size=12), st.lists(cells, min_size=9, max_size=9)), max_size=6
)


def _write(tmp_path_factory, name: str, data: bytes):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    return path


@FUZZ
@given(data=st.binary(max_size=300))
def test_readers_on_arbitrary_bytes(tmp_path_factory, data):
    for name, reader in (
        ("Data_Entry_2017.csv", read_data_entry),
        ("BBox_List_2017.csv", read_bbox_list),
        ("test_list.txt", read_split_list),
    ):
        for suffix in ("", ".gz"):
            path = _write(tmp_path_factory, name + suffix, data)
            with contextlib.suppress(*NAMED):
                reader(path)


@FUZZ
@given(table=rows)
@example(table=[["a.png", "Mass", "1e309", "1", "nan", "M", "PA", "inf", "1", "0", "0"]])
@example(table=[["a.png", "Mass", "0", "1", "40", "M", "PA", "-inf", "1", "0", "0"]])
def test_data_entry_on_arbitrary_rows(tmp_path_factory, table):
    text = DATA_ENTRY_HEADER + "\n" + "\n".join(",".join(r) for r in table) + "\n"
    path = _write(tmp_path_factory, "Data_Entry_2017.csv", text.encode())
    try:
        records = read_data_entry(path)
    except NAMED:
        return
    assert all(isinstance(r.patient_id, int) for r in records)


@FUZZ
@given(table=rows)
def test_bbox_list_on_arbitrary_rows(tmp_path_factory, table):
    text = BBOX_HEADER + "\n" + "\n".join(",".join(r) for r in table) + "\n"
    path = _write(tmp_path_factory, "BBox_List_2017.csv", text.encode())
    try:
        boxes = read_bbox_list(path)
    except NAMED:
        return
    for box in boxes:
        assert all(math.isfinite(v) for v in box.xywh) and box.w > 0 and box.h > 0


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@FUZZ
@given(
    box=st.tuples(finite_or_not, finite_or_not, finite_or_not, finite_or_not),
    frame=st.tuples(st.integers(-5, 4096), st.integers(-5, 4096)),
)
def test_box_functions_on_arbitrary_floats(box, frame):
    try:
        inside = box_in_frame(box, frame)
    except ValueError:
        return
    if inside:
        x, y, w, h = box
        assert 0 <= x <= x + w <= frame[1] and 0 <= y <= y + h <= frame[0]
    try:
        scaled = rescale_boxes(torch.tensor([box]), frame, (256, 256))
    except ValueError:
        assert min(frame) <= 0
        return
    if inside:
        assert bool(((scaled >= 0) & (scaled <= 256 + 1e-3)).all())


@pytest.mark.parametrize("frame", [(0, 10), (10, -1), ("a", 3), (float("nan"), 5), (3,)])
def test_rescale_boxes_refuses_bad_frames(frame):
    with pytest.raises(ValueError, match="size"):
        rescale_boxes(torch.zeros(1, 4), frame, (8, 8))


@FUZZ
@given(
    index=st.one_of(
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
            max_leaves=12,
        ).map(lambda v: __import__("json").dumps(v)),
        st.fixed_dictionaries(
            {
                "size": st.integers(-2, 40) | st.text(max_size=3),
                "names": st.lists(st.text(max_size=6), max_size=3),
                "stored_sizes": st.lists(st.lists(st.integers(-1, 9), max_size=3), max_size=3),
                "fingerprints": st.lists(st.lists(st.integers(), max_size=3), max_size=3),
            }
        ).map(lambda v: __import__("json").dumps(v)),
    )
)
def test_prepared_store_index_gives_a_store_or_a_named_error(tmp_path_factory, index):
    from cxr14_data import PreparedStore, StaleStoreError

    folder = tmp_path_factory.mktemp("store")
    (folder / "index.json").write_text(index, encoding="latin-1")
    with contextlib.suppress(StaleStoreError):
        store = PreparedStore(folder)
        assert len(store.names) == len(store.stored_sizes)
