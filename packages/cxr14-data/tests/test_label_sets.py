from collections import Counter

import numpy as np
import pytest

from cxr14_data import CLASSES, NIH_PREVALENCE, SYNTHETIC_PREVALENCE
from cxr14_data._label_sets import LabelSetSampler
from cxr14_data.nih_statistics import nih_label_sets


def _nih() -> tuple[dict[tuple[str, ...], float], dict[str, float], float]:
    table = dict(nih_label_sets())
    total = sum(table.values())
    probs = {labels: count / total for labels, count in table.items()}
    shares = {c: sum(p for s, p in probs.items() if c in s) for c in CLASSES}
    several = sum(p for s, p in probs.items() if len(s) > 1)
    return probs, shares, several


class TestLabelSetSampler:
    def test_hits_the_requested_shares(self):
        sampler = LabelSetSampler(SYNTHETIC_PREVALENCE, multi_share=0.185)
        shares = sampler.class_shares()
        for name, target in SYNTHETIC_PREVALENCE.items():
            assert shares[name] == pytest.approx(target, abs=1e-6)
        assert sampler.multi_share() == pytest.approx(0.185, abs=1e-6)

    def test_nih_own_shares_give_nih_back(self):
        probs, shares, several = _nih()
        sampler = LabelSetSampler(shares, multi_share=several)
        for labels, p in zip(sampler.combinations, sampler.probabilities, strict=True):
            assert p == pytest.approx(probs[labels], rel=1e-6, abs=1e-12)

    def test_is_an_exponential_tilt_of_nih(self):
        # log(p'/p) must be linear in the class indicators and the several-findings indicator
        probs, _, _ = _nih()
        sampler = LabelSetSampler(SYNTHETIC_PREVALENCE, multi_share=0.185)
        features = np.array(
            [[c in s for c in CLASSES] + [len(s) > 1, 1.0] for s in sampler.combinations], float
        )
        ratio = np.log(sampler.probabilities / np.array([probs[s] for s in sampler.combinations]))
        coef, *_ = np.linalg.lstsq(features, ratio, rcond=None)
        np.testing.assert_allclose(features @ coef, ratio, atol=1e-8)

    def test_draws_follow_the_probabilities(self):
        sampler = LabelSetSampler(SYNTHETIC_PREVALENCE, multi_share=0.185)
        rng = np.random.default_rng(0)
        n = 20_000
        counts = Counter(sampler.draw(rng) for _ in range(n))
        for labels, p in zip(sampler.combinations, sampler.probabilities, strict=True):
            if p > 0.01:
                assert abs(counts[labels] - n * p) < 5 * np.sqrt(n * p * (1 - p)), labels

    def test_keeps_nih_order_of_classes(self):
        assert max(NIH_PREVALENCE, key=NIH_PREVALENCE.get) == "Infiltration"
        assert max(SYNTHETIC_PREVALENCE, key=SYNTHETIC_PREVALENCE.get) == "Infiltration"

    @pytest.mark.parametrize(
        ("shares", "multi", "match"),
        [
            pytest.param({"Nodule": 0.1}, 0.185, "exactly", id="missing-classes"),
            pytest.param(dict.fromkeys(CLASSES, 0.0), 0.185, r"\(0, 1\)", id="zero-share"),
            pytest.param(dict.fromkeys(CLASSES, 0.1), 1.0, r"\(0, 1\)", id="multi-one"),
        ],
    )
    def test_bad_shares(self, shares, multi, match):
        with pytest.raises(ValueError, match=match):
            LabelSetSampler(shares, multi)


def _lift(probs: dict[tuple[str, ...], float], a: str, b: str) -> float:
    """P(a and b) / (P(a) P(b)): above 1 where the two findings come together."""
    pa = sum(p for s, p in probs.items() if a in s)
    pb = sum(p for s, p in probs.items() if b in s)
    return sum(p for s, p in probs.items() if a in s and b in s) / (pa * pb)


def test_pairs_that_come_together_in_nih_still_do():
    table = dict(nih_label_sets())
    total = sum(table.values())
    nih = {labels: count / total for labels, count in table.items()}
    sampler = LabelSetSampler(SYNTHETIC_PREVALENCE, multi_share=0.185)
    tilted = dict(zip(sampler.combinations, sampler.probabilities, strict=True))
    checked = 0
    for a in CLASSES:
        for b in CLASSES[CLASSES.index(a) + 1 :]:
            together = sum(count for s, count in table.items() if a in s and b in s)
            nih_lift, synthetic_lift = _lift(nih, a, b), _lift(tilted, a, b)
            if together < 300 or nih_lift < 1.2:  # rare or loosely associated pairs
                continue
            assert synthetic_lift > 1, (a, b, nih_lift, synthetic_lift)
            assert 0.5 < synthetic_lift / nih_lift < 2, (a, b, nih_lift, synthetic_lift)
            checked += 1
    assert checked >= 25
