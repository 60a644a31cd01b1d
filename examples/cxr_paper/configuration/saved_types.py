"""Whether a saved setting has its field's JSON type (``config.json`` edited by hand)."""

from __future__ import annotations

from typing import Any

from cxr_paper.errors import RunError


def _fits(value: Any, default: Any) -> bool:
    """Whether a saved ``value`` has the JSON type of the field whose default is ``default``."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        kinds = {type(v) for v in default}
        return isinstance(value, list) and all(
            any(_fits(v, kind()) for kind in kinds) if kinds else True for v in value
        )
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def check_types(values: dict[str, Any], defaults: dict[str, Any], where: str) -> None:
    """Refuse settings whose JSON type differs from their default's (``"epochs": "3"``,
    ``"models": null``), naming the file and each field.

    Args:
        values: the settings read from ``where``.
        defaults: every setting's default (its type is the one expected).
        where: the file, for the message.

    Raises:
        RunError: naming every setting of another type.

    Examples:
        >>> check_types({"epochs": "3", "models": None}, {"epochs": 1, "models": []}, "config.json")
        Traceback (most recent call last):
        cxr_paper.errors.RunError: config.json: "epochs" is '3', expected int; "models" is ...
    """
    wrong = [
        f'"{name}" is {value!r:.40}, expected {type(defaults[name]).__name__}'
        for name, value in values.items()
        if name in defaults and not _fits(value, defaults[name])
    ]
    if wrong:
        raise RunError(f"{where}: {'; '.join(wrong)}.")
