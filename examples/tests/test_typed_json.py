"""The result codec: every type written and read back equal, on random values and on the files
of a run of the format before the types (committed), and every wrong value refused by its path."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxr_paper.errors import RunError
from cxr_paper.files.jsonio import strict
from cxr_paper.files.typed_json import (
    EMPTY_IS_NONE,
    INLINE,
    OMIT_NONE,
    FormatError,
    from_json,
    to_json,
)
from cxr_paper.scoring.comparisons import Comparison
from cxr_paper.scoring.decision_types import Decisions
from cxr_paper.scoring.headlines import HEADLINES, Headline
from cxr_paper.scoring.interval_types import Difference, Interval, ModelDifference, ModelIntervals
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.model_metrics import METRICS_JSON, read_metrics
from cxr_paper.scoring.results import ModelResult

#: A smoke run written by the code before results were types (commit c7aba06): its
#: ``metrics.json`` and one model's ``result.json`` / ``result.npz``.
EARLIER_RUN = Path(__file__).parent / "data" / "run_before_types"


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Leaf:
    x: float
    n: int = 0


@dataclass(frozen=True)
class Tree:
    name: str
    leaves: dict[Colour, list[Leaf]]
    pair: tuple[int, int]
    maybe: Leaf | None = field(default=None, metadata={EMPTY_IS_NONE: True})
    gone: Leaf | None = field(default=None, metadata={OMIT_NONE: True})
    rest: dict[str, float] = field(default_factory=dict, metadata={INLINE: True})


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
LEAVES = st.builds(Leaf, st.one_of(FINITE, st.just(math.nan)), st.integers(-(2**70), 2**70))
TREES = st.builds(
    Tree,
    st.text(max_size=8),
    st.dictionaries(st.sampled_from(Colour), st.lists(LEAVES, max_size=3), max_size=2),
    st.tuples(st.integers(), st.integers()),
    st.none() | LEAVES,
    st.none() | LEAVES,
    st.dictionaries(st.text(max_size=5).filter(lambda k: k not in Tree.__annotations__), FINITE),
)


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (the JSON trees compare so)."""
    return json.dumps(strict(to_json(a)), sort_keys=True) == json.dumps(
        strict(to_json(b)), sort_keys=True
    )


@settings(max_examples=200, deadline=None)
@given(TREES)
def test_random_values_read_back_equal_through_a_json_file(tree: Tree) -> None:
    text = json.dumps(strict(to_json(tree)), allow_nan=False)
    again = from_json(Tree, json.loads(text))
    assert _same(again, tree)
    assert isinstance(again.pair, tuple) and all(isinstance(k, Colour) for k in again.leaves)
    if tree.maybe is None:
        assert json.loads(text)["maybe"] == {}
    if tree.gone is None:
        assert "gone" not in json.loads(text)


@pytest.mark.parametrize(
    ("tree", "where"),
    [
        ({"name": 1, "leaves": {}, "pair": [1, 2]}, "tree.name: 1 is not a text"),
        ({"name": "a", "leaves": {"green": []}, "pair": [1, 2]}, "the key 'green' is not"),
        ({"name": "a", "leaves": {"red": [{"x": "1"}]}, "pair": [1, 2]}, "red[0].x: '1' is not"),
        ({"name": "a", "leaves": {"red": [{"x": True}]}, "pair": [1, 2]}, "x: True is not a n"),
        ({"name": "a", "leaves": {"red": [{"x": 1e999}]}, "pair": [1, 2]}, "not a finite"),
        ({"name": "a", "leaves": {"red": [{"x": 10**400}]}, "pair": [1, 2]}, "not a finite"),
        ({"name": "a", "leaves": {"red": [{"x": 1, "n": 1.5}]}, "pair": [1, 2]}, "an integer"),
        ({"name": "a", "leaves": {}, "pair": [1]}, "tree.pair: [1] is not a list of 2"),
        ({"name": "a", "leaves": {}}, "tree: 'pair' is missing"),
        ({"name": "a", "leaves": [], "pair": [1, 2]}, "tree.leaves: [] is not an object"),
        ({"name": "a", "leaves": {}, "pair": [1, 2], "x": "y"}, "tree.x: 'y' is not a number"),
        ("tree", "tree: 'tree' is not an object"),
    ],
)
def test_a_wrong_value_is_refused_by_its_path(tree, where) -> None:
    with pytest.raises(FormatError) as refused:
        from_json(Tree, tree, "tree")
    assert where in str(refused.value)


def test_an_unknown_key_is_refused_where_no_field_takes_the_rest() -> None:
    with pytest.raises(FormatError, match=r"leaf: unknown keys \['y'\]"):
        from_json(Leaf, {"x": 1.0, "y": 2}, "leaf")


def test_numpy_scalars_and_number_keys_read_as_python_values() -> None:
    leaf = from_json(Leaf, {"x": np.float32(0.5), "n": np.int64(3)})
    assert leaf == Leaf(0.5, 3) and type(leaf.n) is int
    assert from_json(dict[str, float], {0.3: 1}) == {"0.3": 1.0}


@given(st.sampled_from(["cam", "gradcam", "gradcam++", "hirescam", "x"]), st.booleans())
def test_key_types_are_their_text(method: str, refined: bool) -> None:
    kind = MapKind(method, refined)
    assert from_json(dict[MapKind, int], json.loads(json.dumps({kind: 1}))) == {kind: 1}
    assert {kind: 1}[kind.key] == 1 and MapKind.parse(kind.key) == kind
    comparison = Comparison.of_kind(kind)
    assert Comparison.parse(str(comparison)) == comparison and comparison.across_maps


@pytest.mark.parametrize("key", ["pcm+pcm", "", "+pcm"])
def test_a_map_kind_that_is_none_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="map method|does not end in"):
        MapKind.parse(key)


def test_model_and_kind_differences_are_told_apart_by_their_key() -> None:
    difference = Difference(0.1, 0.0, 0.2, 0.95, 100, False)
    tree = {
        "pcm - cam": {h.value: to_json(difference) for h in HEADLINES},
        "m - s": {"auroc": {"mean": to_json(difference)}, "cam": {"accuracy": to_json(difference)}},
    }
    typed = from_json(
        dict[Comparison, dict[Headline, Difference] | ModelDifference], tree, "paired"
    )
    assert isinstance(typed[Comparison("m", "s")], ModelDifference)
    assert typed[Comparison("m", "s")].localization["cam"][Headline.ACCURACY] == difference
    assert to_json(typed) == tree


@pytest.fixture(scope="module")
def earlier_metrics() -> dict:
    return json.loads((EARLIER_RUN / METRICS_JSON).read_text())


def test_a_metrics_file_of_the_earlier_format_reads_and_writes_back_the_same(
    earlier_metrics,
) -> None:
    metrics = read_metrics(EARLIER_RUN / METRICS_JSON)
    assert strict(to_json(metrics)) == earlier_metrics
    entry = metrics["multires_resnet10t"]
    assert isinstance(entry.intervals, ModelIntervals)
    assert set(entry.kind_differences()) == {"pcm - cam"}
    assert set(entry.model_differences()) == {"multires_resnet10t - resnet10t"}
    mean = entry.intervals.auroc["mean"]
    assert (
        isinstance(mean, Interval)
        and mean.estimate
        == earlier_metrics["multires_resnet10t"]["intervals"]["auroc"]["mean"]["estimate"]
    )


def test_a_saved_result_of_the_earlier_format_loads_and_saves_back_the_same(tmp_path) -> None:
    folder = tmp_path / "resnet10t"
    shutil.copytree(EARLIER_RUN / "resnet10t", folder)
    result = ModelResult.load(folder)
    assert isinstance(result.decisions, Decisions) and result.decisions.calibration is not None
    earlier = json.loads((folder / "result.json").read_text())
    result.save(folder)
    assert json.loads((folder / "result.json").read_text()) == earlier
    metrics = read_metrics(EARLIER_RUN / METRICS_JSON)["resnet10t"]
    assert _same(result.metrics(), replace(metrics, noise=None))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t["intervals"]["auroc"]["mean"].update(low="0.1"), "intervals.auroc.mean.low"),
        (lambda t: t["paired"].update({"pcm - cam": []}), "paired.pcm - cam"),
        (lambda t: t["test"].update(box_images=-0.5), "test.box_images"),
        (lambda t: t["params"].pop("model"), "params: 'model' is missing"),
        (lambda t: t["decisions"]["calibration"].update(bins=None), "calibration.bins"),
    ],
)
def test_a_hand_edited_result_is_refused_naming_the_value(tmp_path, edit, message) -> None:
    folder = tmp_path / "resnet10t"
    shutil.copytree(EARLIER_RUN / "resnet10t", folder)
    tree = json.loads((folder / "result.json").read_text())
    edit(tree)
    (folder / "result.json").write_text(json.dumps(tree))
    with pytest.raises(RunError, match="not a result this project wrote") as refused:
        ModelResult.load(folder)
    assert message in str(refused.value)


def test_a_metrics_file_with_a_wrong_value_is_refused_naming_it(tmp_path, earlier_metrics):
    earlier_metrics["resnet10t"]["localization"]["cam"]["iobb"]["0.1"]["mean"]["afp"] = "many"
    path = tmp_path / METRICS_JSON
    path.write_text(json.dumps(earlier_metrics))
    with pytest.raises(RunError, match=r"resnet10t\.localization\.cam\.iobb\.0\.1\.mean\.afp"):
        read_metrics(path)


def test_a_metrics_file_nested_past_the_parser_is_refused_naming_it(tmp_path):
    path = tmp_path / METRICS_JSON
    path.write_text("[" * 100_000)
    with pytest.raises(RunError, match="not a readable JSON file"):
        read_metrics(path)
