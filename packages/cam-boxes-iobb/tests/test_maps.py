"""The maps file contract: both layouts round-trip, hostile or damaged files are refused by name
before anything large is allocated."""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cam_boxes_iobb.maps import MapsError, open_maps, save_maps

IDS = ["a.png", "b.png", "c.png"]
CLASSES = ["Mass", "Nodule"]


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 2, 5, 7)).astype(np.float32), rng.uniform(size=(3, 2))


def test_npz_round_trip_streams_rows(tmp_path, arrays):
    maps, probs = arrays
    path = save_maps(tmp_path / "m.npz", IDS, CLASSES, maps, probs)
    opened = open_maps(path)
    assert opened.classes == tuple(CLASSES) and opened.image_ids == IDS and opened.has_probs
    items = list(opened)
    assert [i.image_id for i in items] == IDS
    for item, expected, p in zip(items, maps, probs, strict=True):
        np.testing.assert_array_equal(item.maps, expected)
        np.testing.assert_array_equal(item.probs, p)


def test_compressed_npz_is_read_too(tmp_path, arrays):
    maps, _ = arrays
    path = tmp_path / "c.npz"
    np.savez_compressed(
        path, maps=maps.astype(np.float64), image_ids=np.array(IDS), classes=np.array(CLASSES)
    )
    np.testing.assert_allclose(next(iter(open_maps(path))).maps, maps[0])


def test_folder_layout(tmp_path, arrays):
    maps, probs = arrays
    (tmp_path / "sub").mkdir()
    ids = ["a", "sub/b", "c"]
    for name, m in zip(ids, maps, strict=True):
        np.save(tmp_path / f"{name}.npy", m)
    (tmp_path / "maps.json").write_text(
        json.dumps({"classes": CLASSES, "probs": dict(zip(ids, probs.tolist(), strict=True))})
    )
    opened = open_maps(tmp_path)
    assert opened.image_ids == sorted(ids)
    by_id = {item.image_id: item for item in opened}
    np.testing.assert_array_equal(by_id["sub/b"].maps, maps[1])
    np.testing.assert_allclose(by_id["c"].probs, probs[2])


def _npz_with(tmp_path, **members):
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return path


def _npy(array, **kwargs):
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def _header_only(shape, dtype="<f4"):
    """A ``.npy`` header that declares ``shape`` with no data behind it."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


GOOD = {"image_ids": _npy(np.array(IDS)), "classes": _npy(np.array(CLASSES))}


@pytest.mark.parametrize(
    ("members", "message"),
    [
        pytest.param({"maps": _npy(np.zeros((3, 2, 4, 4)))}, "lacks", id="no-ids"),
        pytest.param(
            {**GOOD, "maps": _npy(np.array([None] * 3, dtype=object), allow_pickle=True)},
            "Python objects",
            id="pickle",
        ),
        pytest.param(
            {**GOOD, "maps": _npy(np.zeros((3, 2, 4, 4), np.int64))}, "floating point", id="ints"
        ),
        pytest.param(
            {**GOOD, "maps": _npy(np.zeros((4, 2, 4, 4)))}, "for its 3 image_ids", id="count"
        ),
        pytest.param(
            {**GOOD, "maps": _header_only((3, 2, 100000, 100000))}, "h*w", id="huge-header"
        ),
        pytest.param(
            {
                **GOOD,
                "image_ids": _header_only((10**12,), "<U8"),
                "maps": _npy(np.zeros((3, 2, 4, 4))),
            },
            "declares",
            id="huge-ids",
        ),
        pytest.param(
            {
                **GOOD,
                "image_ids": _npy(np.array(["a", "a", "b"])),
                "maps": _npy(np.zeros((3, 2, 4, 4))),
            },
            "distinct",
            id="repeated-ids",
        ),
        pytest.param(
            {**GOOD, "maps": _npy(np.zeros((3, 2, 4, 4)))[:-40]}, "truncated", id="truncated"
        ),
        pytest.param({**GOOD, "maps": _npy(np.full((3, 2, 4, 4), np.nan))}, "NaN", id="nan"),
        pytest.param(
            {**GOOD, "maps": _npy(np.zeros((3, 2, 4, 4))), "probs": _npy(np.full((3, 2), 1.5))},
            "[0, 1]",
            id="probs-range",
        ),
        pytest.param(
            {**GOOD, "maps": _npy(np.zeros((3, 2, 4, 4))), "probs": _npy(np.zeros((3, 5)))},
            "shape",
            id="probs-shape",
        ),
        pytest.param(
            {**GOOD, "maps": _header_only((3, 14, -1, -1))}, "negative size", id="negative-sizes"
        ),
        pytest.param(
            {
                **GOOD,
                "image_ids": _header_only((2**40, 2**40), "<U8"),
                "maps": _npy(np.zeros((3, 2, 4, 4))),
            },
            "declares",
            id="ids-overflowing-int64",
        ),
        pytest.param(
            {**GOOD, "classes": _header_only((2,), "<U0"), "maps": _npy(np.zeros((3, 2, 4, 4)))},
            "zero bytes",
            id="classes-U0",
        ),
        pytest.param(
            {
                **GOOD,
                "maps": _npy(np.zeros((3, 2, 4, 4))),
                "probs": _npy(np.array([["0.1", "0.2"]] * 3)),
            },
            "expected numbers",
            id="probs-strings",
        ),
        pytest.param(
            {
                **GOOD,
                "image_ids": _npy(np.array([1.0, 2.0, 3.0])),
                "maps": _npy(np.zeros((3, 2, 4, 4))),
            },
            "expected strings",
            id="ids-numbers",
        ),
    ],
)
def test_bad_npz_is_refused_by_name(tmp_path, members, message):
    path = _npz_with(tmp_path, **members)
    with pytest.raises(MapsError) as error:
        list(open_maps(path))
    assert str(path) in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("damage", ["empty", "garbage", "cut"])
def test_damaged_archives(tmp_path, arrays, damage):
    path = save_maps(tmp_path / "m.npz", IDS, CLASSES, arrays[0])
    data = path.read_bytes()
    path.write_bytes(
        {"empty": b"", "garbage": b"PK\x03\x04" + b"\x00" * 50, "cut": data[: len(data) // 2]}[
            damage
        ]
    )
    with pytest.raises(MapsError, match=str(path)):
        list(open_maps(path))


def test_folder_ids_cannot_leave_the_folder(tmp_path):
    (tmp_path / "maps.json").write_text(
        json.dumps({"classes": ["A"], "image_ids": ["../../etc/x"]})
    )
    with pytest.raises(MapsError, match="leaves the folder"):
        open_maps(tmp_path)


def test_folder_without_meta_or_missing_file(tmp_path):
    with pytest.raises(MapsError, match="maps.json"):
        open_maps(tmp_path)
    (tmp_path / "maps.json").write_text(json.dumps({"classes": ["A"], "image_ids": ["x"]}))
    with pytest.raises(MapsError, match="missing"):
        list(open_maps(tmp_path))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_maps_files_give_only_maps_errors(tmp_path_factory, data):
    """Random bytes, or a valid file (npz, or the folder's maps.json) with bytes overwritten or
    cut: a result or a MapsError naming the file, never another exception."""
    folder = tmp_path_factory.mktemp("maps")
    rng = np.random.default_rng(0)
    layout = data.draw(st.sampled_from(["npz", "folder"]))
    if layout == "npz":
        path = save_maps(folder / "m.npz", IDS, CLASSES, rng.normal(size=(3, 2, 4, 4)))
    else:
        for name in IDS:
            np.save(folder / f"{name}.npy", rng.normal(size=(2, 4, 4)))
        path = folder / "maps.json"
        path.write_text(json.dumps({"classes": CLASSES, "probs": {i: [0.5, 0.5] for i in IDS}}))
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans()):
        raw = bytearray(data.draw(st.binary(max_size=300)))
    else:
        for _ in range(data.draw(st.integers(1, 6))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path.write_bytes(bytes(raw))
    refused, items = None, []
    try:
        items = list(open_maps(path if layout == "npz" else folder))
    except MapsError as error:
        refused = str(error)
    assert refused is None or str(folder) in refused
    assert all(np.isfinite(item.maps).all() for item in items)


def test_a_zip_bomb_of_image_ids_is_refused_before_it_is_inflated(tmp_path):
    """300 KB that inflate to 660 MB of ``image_ids`` reached 660 MB of memory."""
    import tracemalloc

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("classes.npy", _npy(np.array(CLASSES)))
        archive.writestr("maps.npy", _npy(np.zeros((3, 2, 4, 4), np.float32)))
        with archive.open("image_ids.npy", "w", force_zip64=True) as member:
            count = 2_600_000  # 64-character ids: 666 MB inflated
            member.write(_header_only((count,), "<U64"))
            zeros = bytes(1 << 20)
            for _ in range(count * 256 // len(zeros)):
                member.write(zeros)
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    with pytest.raises(MapsError, match="bytes, more than") as error:
        open_maps(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(path) in str(error.value) and peak < 16 * 2**20


def test_a_folder_with_too_many_classes_is_refused(tmp_path):
    (tmp_path / "maps.json").write_text(json.dumps({"classes": [f"c{i}" for i in range(100_000)]}))
    with pytest.raises(MapsError, match="100000 classes, more than 1024"):
        open_maps(tmp_path)
