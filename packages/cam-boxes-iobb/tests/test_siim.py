"""SIIM-ACR's run-length encoding: relative and absolute starts told apart, or refused naming
the file; bad rows named by line (the real file: ``tests/test_siim_masks.py`` at the root)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cam_boxes_iobb.annotations import AnnotationError
from cam_boxes_iobb.formats import read_annotations
from cam_boxes_iobb.formats.siim import parse_runs, read_siim, rle_convention

HEADER = "ImageId, EncodedPixels\n"
N = 1024 * 1024


def _mask_from_absolute(runs):
    flat = np.zeros(N, dtype=bool)
    for start, length in runs:
        flat[start : start + length] = True
    return flat.reshape(1024, 1024).T  # column-major


def _as_text(runs, relative):
    values, end = [], 0
    for start, length in runs:
        values += [start - end if relative else start, length]
        end = start + length
    return " ".join(map(str, values))


RUNS = st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 50)), min_size=2, max_size=6).map(
    lambda gaps: [
        (sum(g + length for g, length in gaps[:i]) + gaps[i][0], gaps[i][1])
        for i in range(len(gaps))
    ]
)


def _detected(folder):
    """The convention the reader finds, or ``None`` where it refuses to guess."""
    try:
        read_siim(folder)
    except AnnotationError as refused:
        if "fits both" in str(refused):
            return None
        raise
    return rle_convention(
        [("", parse_runs(line.split(",", 1)[1], "")) for line in _lines(folder)[1:]], ""
    )


def _lines(folder):
    return [line for line in (folder / "train-rle.csv").read_text().splitlines() if line]


@settings(max_examples=40, deadline=None)
@given(st.lists(RUNS, min_size=1, max_size=4), st.booleans())
def test_either_convention_is_told_apart_and_decoded(tmp_path_factory, images, relative):
    folder = tmp_path_factory.mktemp("siim")
    lines = [f"img{i}, {_as_text(runs, relative)}" for i, runs in enumerate(images)]
    (folder / "train-rle.csv").write_text(HEADER + "\n".join(lines) + "\n")
    convention = "relative" if relative else "absolute"
    assert _detected(folder) in (convention, None)  # never the wrong one
    annotations = read_siim(folder, runs=convention)
    for i, runs in enumerate(images):
        mask = annotations[f"img{i}"].mask("Pneumothorax") > 0
        assert np.array_equal(mask, _mask_from_absolute(runs))


def test_components_of_an_image_are_united_and_negatives_kept(tmp_path):
    path = tmp_path / "train-rle.csv"
    path.write_text(HEADER + "a, 10 2 1000 3\na, 5000 1 20 1\nb, -1\n")
    ann = read_annotations(path, "siim")
    expected = _mask_from_absolute([(10, 2), (1012, 3), (5000, 1), (5021, 1)])
    assert np.array_equal(ann["a"].mask("Pneumothorax") > 0, expected)
    assert ann["b"].masks == {} and ann["a"].patient == "a"


@pytest.mark.parametrize(
    ("rows", "named"),
    [
        ("a, 1 2 3\n", "line 2: EncodedPixels is not pairs"),
        ("a, x 2\n", "line 2: EncodedPixels holds a value"),
        ("a, 5 0\n", "line 2: EncodedPixels is not pairs"),
        ("a, -1\na, 10 2 10 2\n", "line 3: a is listed with a mask and as -1"),
        ("a, 10 2 10 2\na, -1\n", "line 3: a is listed as -1 and with a mask"),
        (f"a, {N} 2 1 1\n", "line 2: runs fit neither"),
        ("a, 5 2 1 1\nb, 600000 2 700000 2\n", "rows fit only relative starts ("),
        ("a, 5 2 100 1\n", "every row fits both"),
    ],
)
def test_a_bad_file_is_refused_naming_it(tmp_path, rows, named):
    path = tmp_path / "train-rle.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(AnnotationError) as refused:
        read_siim(path)
    assert named in str(refused.value)


def test_a_file_of_negatives_and_single_runs_needs_no_convention(tmp_path):
    """The normal case of a small file: no row has two runs, so both conventions agree."""
    path = tmp_path / "train-rle.csv"
    path.write_text(HEADER + "a, -1\nb, 1026 2\nc, -1\n")
    ann = read_siim(path)
    assert ann["a"].masks == {} and ann["c"].masks == {}
    assert np.array_equal(ann["b"].mask("Pneumothorax") > 0, _mask_from_absolute([(1026, 2)]))


def test_another_frame_is_read_in_that_frame(tmp_path):
    """A smaller frame (a synthetic set's): column-major runs over 4 x 4; past its end refused."""
    path = tmp_path / "train-rle.csv"
    path.write_text("ImageId, EncodedPixels\na, 5 2 2 2\nb, -1\n")  # relative: pixels 5-6, 9-10
    mask = read_siim(path, frame=(4, 4))["a"].mask("Pneumothorax")
    assert mask.shape == (4, 4)
    assert np.argwhere(mask).tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]  # (row, column)
    path.write_text("ImageId, EncodedPixels\na, 14 4\n")
    with pytest.raises(AnnotationError, match="past the 4 x 4 mask"):
        read_siim(path, runs="relative", frame=(4, 4))
