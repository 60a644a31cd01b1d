import math

import pytest
import torch
import torch.nn.functional as F

from weighted_bce import (
    DynamicWeightedBCEWithLogitsLoss,
    batch_class_weights,
    dynamic_weighted_bce_with_logits,
)


def _softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _reference_loop(logits, targets, reduction):
    """Eq. 3-5 written out with Python loops in float64 (-log σ(x) = softplus(-x))."""
    x = logits.detach().double().tolist()
    y = targets.double().tolist()
    batch, classes = len(x), len(x[0])
    terms = [[0.0] * classes for _ in range(batch)]
    for c in range(classes):
        n_pos = sum(y[b][c] for b in range(batch))
        n_neg = batch - n_pos
        beta_pos = batch / n_pos if n_pos else 0.0
        beta_neg = batch / n_neg if n_neg else 0.0
        for b in range(batch):
            if y[b][c] == 1:
                terms[b][c] = beta_pos * _softplus(-x[b][c])
            else:
                terms[b][c] = beta_neg * _softplus(x[b][c])
    out = torch.tensor(terms, dtype=torch.float64)
    if reduction == "none":
        return out
    return out.sum() / batch if reduction == "mean" else out.sum()


def _random_batch(seed, batch, classes, positive_rate):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, classes, generator=g) * 3
    targets = (torch.rand(batch, classes, generator=g) < positive_rate).float()
    return logits, targets


class TestBatchClassWeights:
    def test_smoke(self):
        beta_pos, beta_neg = batch_class_weights(torch.tensor([[1.0], [0.0], [0.0], [0.0]]))
        assert beta_pos.tolist() == [4.0]
        assert beta_neg.tolist() == pytest.approx([4.0 / 3.0])

    @pytest.mark.parametrize(
        ("column", "expected"),
        [
            pytest.param([0, 0, 0], (0.0, 1.0), id="no-positives"),
            pytest.param([1, 1, 1], (1.0, 0.0), id="no-negatives"),
            pytest.param([1, 0, 0], (3.0, 1.5), id="one-positive"),
        ],
    )
    def test_edge_cases(self, column, expected):
        beta_pos, beta_neg = batch_class_weights(torch.tensor(column, dtype=torch.float32)[:, None])
        assert (beta_pos.item(), beta_neg.item()) == pytest.approx(expected)

    def test_exception(self):
        with pytest.raises(ValueError, match=r"shape \(B, C\).*\(3,\)"):
            batch_class_weights(torch.zeros(3))


class TestDynamicWeightedBCE:
    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    @pytest.mark.parametrize("seed", range(12))
    def test_against_reference_loop(self, seed, reduction):
        g = torch.Generator().manual_seed(1000 + seed)
        batch = int(torch.randint(1, 97, (1,), generator=g))
        classes = int(torch.randint(1, 15, (1,), generator=g))
        rate = [0.02, 0.1, 0.5, 0.9][seed % 4]
        logits, targets = _random_batch(seed, batch, classes, rate)
        ours = dynamic_weighted_bce_with_logits(logits.double(), targets, reduction=reduction)
        ref = _reference_loop(logits, targets, reduction)
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)

    def test_cardinality(self):
        logits, targets = _random_batch(0, 7, 5, 0.3)
        assert dynamic_weighted_bce_with_logits(logits, targets, "none").shape == (7, 5)
        assert dynamic_weighted_bce_with_logits(logits, targets, "sum").shape == ()

    def test_equals_bce_with_fixed_weight(self):
        logits, targets = _random_batch(3, 32, 14, 0.15)
        beta_pos, beta_neg = batch_class_weights(targets)
        weight = targets * beta_pos + (1 - targets) * beta_neg
        expected = (
            F.binary_cross_entropy_with_logits(logits, targets, weight=weight, reduction="sum")
            / logits.shape[0]
        )
        torch.testing.assert_close(dynamic_weighted_bce_with_logits(logits, targets), expected)

    def test_mean_is_per_sample_sum_averaged(self):
        logits, targets = _random_batch(4, 10, 6, 0.4)
        terms = dynamic_weighted_bce_with_logits(logits, targets, "none")
        mean = dynamic_weighted_bce_with_logits(logits, targets, "mean")
        torch.testing.assert_close(mean, terms.sum(dim=1).mean())

    @pytest.mark.parametrize(
        "targets",
        [
            pytest.param(torch.zeros(5, 3), id="all-negative"),
            pytest.param(torch.ones(5, 3), id="all-positive"),
            pytest.param(torch.tensor([[1.0, 0.0]]), id="batch-of-one"),
        ],
    )
    def test_absent_class_is_finite(self, targets):
        logits = torch.randn(*targets.shape, requires_grad=True)
        loss = dynamic_weighted_bce_with_logits(logits, targets)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(logits.grad).all()

    def test_extreme_logits_are_stable(self):
        logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4]], requires_grad=True)
        targets = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
        loss = dynamic_weighted_bce_with_logits(logits, targets)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
        # every class is one-sided (beta = 2/2 = 1); sample 1 is wrong on both by 1e4
        assert loss.item() == pytest.approx((1e4 + 1e4) / 2, rel=1e-6)

    def test_gradcheck(self):
        logits, targets = _random_batch(5, 6, 4, 0.3)
        logits = logits.double().requires_grad_()
        assert torch.autograd.gradcheck(
            lambda x: dynamic_weighted_bce_with_logits(x, targets.double()), (logits,)
        )

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_precision_computes_in_float32(self, dtype):
        logits, targets = _random_batch(6, 16, 14, 0.2)
        half = logits.to(dtype)
        loss = dynamic_weighted_bce_with_logits(half, targets)
        assert loss.dtype == torch.float32
        # the float64 loop on the same rounded logits: float32 accuracy, not half's
        expected = _reference_loop(half, targets, "mean")
        torch.testing.assert_close(loss.double(), expected, rtol=1e-6, atol=1e-6)

    def test_float64_stays_float64(self):
        logits, targets = _random_batch(6, 4, 3, 0.5)
        assert dynamic_weighted_bce_with_logits(logits.double(), targets).dtype == torch.float64

    def test_autocast_cpu(self):
        logits, targets = _random_batch(7, 8, 3, 0.5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = dynamic_weighted_bce_with_logits(logits.bfloat16(), targets)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)

    def test_integer_and_bool_targets(self):
        logits, targets = _random_batch(8, 9, 4, 0.3)
        expected = dynamic_weighted_bce_with_logits(logits, targets)
        torch.testing.assert_close(
            dynamic_weighted_bce_with_logits(logits, targets.long()), expected
        )
        torch.testing.assert_close(
            dynamic_weighted_bce_with_logits(logits, targets.bool()), expected
        )

    @pytest.mark.parametrize(
        ("logits", "targets", "error", "match"),
        [
            pytest.param(
                torch.zeros(4), torch.zeros(4), ValueError, r"`logits`.*2 dims.*\(4,\)", id="1d"
            ),
            pytest.param(
                torch.zeros(2, 3),
                torch.zeros(3, 2),
                ValueError,
                r"`targets`.*\(2, 3\).*\(3, 2\)",
                id="shape",
            ),
            pytest.param(
                torch.zeros(2, 2), torch.full((2, 2), 0.5), ValueError, r"binary.*0\.5", id="soft"
            ),
            pytest.param(
                torch.zeros(0, 2), torch.zeros(0, 2), ValueError, r"non-empty", id="empty"
            ),
            pytest.param(
                torch.zeros(2, 2, dtype=torch.long),
                torch.zeros(2, 2),
                TypeError,
                r"floating-point",
                id="int-logits",
            ),
            pytest.param([[0.0]], torch.zeros(1, 1), TypeError, r"`logits`.*list", id="not-tensor"),
        ],
    )
    def test_exception(self, logits, targets, error, match):
        with pytest.raises(error, match=match):
            dynamic_weighted_bce_with_logits(logits, targets)

    def test_bad_reduction(self):
        with pytest.raises(ValueError, match="reduction.*'avg'"):
            dynamic_weighted_bce_with_logits(torch.zeros(1, 1), torch.zeros(1, 1), "avg")
        with pytest.raises(ValueError, match="reduction.*'avg'"):
            DynamicWeightedBCEWithLogitsLoss("avg")

    def test_validate_args_off_skips_checks(self):
        soft = torch.full((2, 2), 0.5)
        loss = dynamic_weighted_bce_with_logits(torch.zeros(2, 2), soft, validate_args=False)
        assert torch.isfinite(loss)


class TestModule:
    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    def test_module_equals_functional(self, reduction):
        logits, targets = _random_batch(9, 12, 5, 0.3)
        module = DynamicWeightedBCEWithLogitsLoss(reduction=reduction)
        torch.testing.assert_close(
            module(logits, targets), dynamic_weighted_bce_with_logits(logits, targets, reduction)
        )
        assert repr(module) == f"DynamicWeightedBCEWithLogitsLoss(reduction={reduction!r})"


def _masked_reference_loop(logits, targets, mask, reduction):
    """The masked loss written out: per class, only the kept entries count and contribute."""
    x = logits.detach().double().tolist()
    y = targets.double().tolist()
    keep = mask.bool().tolist()
    batch, classes = len(x), len(x[0])
    terms = [[0.0] * classes for _ in range(batch)]
    for c in range(classes):
        kept = [b for b in range(batch) if keep[b][c]]
        n_pos = sum(1 for b in kept if y[b][c] == 1)
        n_neg = len(kept) - n_pos
        for b in kept:
            if y[b][c] == 1:
                terms[b][c] = len(kept) / n_pos * _softplus(-x[b][c])
            else:
                terms[b][c] = len(kept) / n_neg * _softplus(x[b][c])
    out = torch.tensor(terms, dtype=torch.float64)
    if reduction == "none":
        return out
    return out.sum() / batch if reduction == "mean" else out.sum()


class TestMask:
    """U-Ignore (Irvin et al. 2019): uncertain labels masked out of the loss."""

    @pytest.mark.parametrize("seed", range(8))
    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    def test_against_a_reference_loop(self, seed, reduction):
        logits, targets = _random_batch(seed, 9, 5, 0.3)
        mask = torch.rand(9, 5, generator=torch.Generator().manual_seed(seed + 100)) < 0.7
        marked = torch.where(mask, targets, torch.full_like(targets, -1.0))  # CheXpert's -1
        got = dynamic_weighted_bce_with_logits(logits.double(), marked, reduction, mask=mask)
        expected = _masked_reference_loop(logits, targets, mask, reduction)
        torch.testing.assert_close(got, expected)

    def test_masked_entries_have_zero_gradient_and_are_never_read(self):
        """Hand-worked: class 0 keeps rows 0 (positive) and 1 (negative); row 2 is uncertain.
        Kept: 1 positive, 1 negative of 2, so both weights are 2; the loss is
        (2 softplus(-1) + 2 softplus(0.5)) / 3 and row 2's logit gets no gradient."""
        logits = torch.tensor([[1.0], [0.5], [4.0]], requires_grad=True)
        targets = torch.tensor([[1.0], [0.0], [float("nan")]])
        mask = torch.tensor([[True], [True], [False]])
        loss = dynamic_weighted_bce_with_logits(logits, targets, mask=mask)
        expected = (2 * _softplus(-1.0) + 2 * _softplus(0.5)) / 3
        assert loss.item() == pytest.approx(expected, rel=1e-6)
        loss.backward()
        assert logits.grad[2, 0] == 0 and torch.isfinite(logits.grad).all()
        assert logits.grad[0, 0] != 0 and logits.grad[1, 0] != 0

    def test_a_mask_keeping_everything_is_no_mask(self):
        logits, targets = _random_batch(3, 6, 4, 0.4)
        everything = torch.ones(6, 4, dtype=torch.bool)
        torch.testing.assert_close(
            dynamic_weighted_bce_with_logits(logits, targets, mask=everything),
            dynamic_weighted_bce_with_logits(logits, targets),
        )

    def test_a_fully_masked_class_adds_nothing(self):
        logits, targets = _random_batch(4, 5, 3, 0.5)
        mask = torch.ones(5, 3, dtype=torch.bool)
        mask[:, 1] = False
        terms = dynamic_weighted_bce_with_logits(logits, targets, "none", mask=mask)
        assert (terms[:, 1] == 0).all() and torch.isfinite(terms).all()

    def test_module_takes_the_mask(self):
        logits, targets = _random_batch(5, 4, 2, 0.5)
        mask = torch.tensor([[1, 0], [1, 1], [0, 1], [1, 1]])
        torch.testing.assert_close(
            DynamicWeightedBCEWithLogitsLoss()(logits, targets, mask),
            dynamic_weighted_bce_with_logits(logits, targets, mask=mask),
        )

    @pytest.mark.parametrize(
        ("mask", "match"),
        [
            (torch.ones(3, 2, dtype=torch.bool), "`mask` to have the shape"),
            (torch.full((4, 2), 2), "boolean or 0/1 `mask`"),
        ],
    )
    def test_a_wrong_mask_is_named(self, mask, match):
        logits, targets = _random_batch(6, 4, 2, 0.5)
        with pytest.raises(ValueError, match=match):
            dynamic_weighted_bce_with_logits(logits, targets, mask=mask)

    def test_a_kept_label_must_still_be_binary(self):
        logits = torch.zeros(2, 1)
        with pytest.raises(ValueError, match="binary `targets`"):
            dynamic_weighted_bce_with_logits(
                logits, torch.tensor([[-1.0], [1.0]]), mask=torch.ones(2, 1)
            )
