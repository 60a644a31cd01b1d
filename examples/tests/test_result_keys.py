"""Results keep string keys on disk; the types that write them read them back: a comparison, a
study's owner key, a map kind, a headline."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxr_paper.scoring.comparisons import Comparison, is_comparison
from cxr_paper.scoring.headlines import FIXED_KEY, HEADLINES, Headline, overlap_key
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.study import owner_of, study_key

NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda s: " - " not in s and ": " not in s and s.strip() == s and s
)


@given(NAMES, NAMES)
def test_a_comparison_key_reads_back(minuend, subtrahend):
    comparison = Comparison(minuend, subtrahend)
    assert Comparison.parse(comparison.key) == comparison
    assert is_comparison(comparison.key) and not is_comparison(minuend)


@pytest.mark.parametrize("key", ["pcm", " - cam", "pcm - ", ""])
def test_a_key_that_is_no_comparison_is_refused(key):
    with pytest.raises(ValueError, match="is not a comparison"):
        Comparison.parse(key)


@given(NAMES, NAMES)
def test_a_study_key_names_its_owner(owner, name):
    assert owner_of(study_key(owner, name)) == owner


@pytest.mark.parametrize("method", ["cam", "gradcam", "gradcam++", "hirescam"])
@pytest.mark.parametrize("refined", [False, True])
def test_a_map_kind_key_reads_back(method, refined):
    kind = MapKind(method, refined)
    assert MapKind.parse(kind.key) == kind


def test_headlines_are_their_json_keys():
    entry = {h: float(i) for i, h in enumerate(HEADLINES)}
    again = json.loads(json.dumps(entry))
    assert list(again) == [h.value for h in HEADLINES]
    assert {Headline(k): v for k, v in again.items()} == entry
    assert FIXED_KEY == "0.1" and [overlap_key(t / 10) for t in range(1, 10)][-1] == "0.9"
