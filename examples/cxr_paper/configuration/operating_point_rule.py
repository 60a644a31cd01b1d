"""An operating-point rule as a setting (``--operating-point``): parsed and checked with the
run's other settings; :mod:`cxr_paper.deploy.operating_points` applies it."""

from __future__ import annotations

from dataclasses import dataclass

RULES = ("youden", "sensitivity", "specificity")


@dataclass(frozen=True)
class Rule:
    """A parsed operating-point rule: ``kind`` in :data:`RULES`, ``target`` for the others.

    Attributes:
        kind: ``"youden"``, ``"sensitivity"`` or ``"specificity"``.
        target: The sensitivity or specificity to reach, in ``(0, 1]``; ``None`` for Youden.
    """

    kind: str
    target: float | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``"youden"``, ``"sensitivity:0.9"`` or ``"specificity:0.95"``.

        Examples:
            >>> Rule.parse("sensitivity:0.9")
            Rule(kind='sensitivity', target=0.9)
            >>> Rule.parse("recall:0.9")
            Traceback (most recent call last):
            ValueError: operating point 'recall:0.9': expected 'youden', 'sensitivity:S' or ...
        """
        kind, _, target = str(text).partition(":")
        problem = (
            f"operating point {text!r}: expected 'youden', 'sensitivity:S' or 'specificity:S' "
            "with S in (0, 1]"
        )
        if kind == "youden" and not target:
            return cls("youden")
        if kind not in RULES[1:]:
            raise ValueError(problem)
        try:
            value = float(target)
        except ValueError:
            raise ValueError(problem) from None
        if not 0 < value <= 1:
            raise ValueError(problem)
        return cls(kind, value)

    def __str__(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target:g}"
