"""Training checkpoints without pickle: written atomically, read with ``weights_only=True``.

A checkpoint holds only tensors and plain Python values (numbers, strings, lists, dicts, None):
weights, optimizer and scheduler states, the stage state and the RNG states (numpy's and
Python's converted to tensors and numbers by :func:`cxr_paper.machine.runtime.rng_state`). So
``torch.load(..., weights_only=True)`` reads it, and a run folder received from someone else
cannot run code on ``--resume``. Each checkpoint also carries the SHA-256 of its contents
(every tensor's bytes and every value, in key order), checked on load, since a flipped byte
inside a tensor would otherwise load silently. A file that is damaged, truncated, or holds
anything else is refused in one line naming it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_write

CHECKSUM = "sha256"


def digest(value: Any) -> str:
    """SHA-256 of a checkpoint's contents: tensors by dtype, shape and bytes, other values by
    ``repr``, dict keys in sorted order.

    Args:
        value: A checkpoint's contents.

    Returns:
        64 hex characters.

    Examples:
        >>> zeros, ones = digest({"w": torch.zeros(2)}), digest({"w": torch.ones(2)})
        >>> len(zeros), zeros == digest({"w": torch.zeros(2)}), zeros == ones
        (64, True, False)
    """
    sha = hashlib.sha256()

    def feed(item: Any) -> None:
        if isinstance(item, torch.Tensor):
            flat = item.detach().cpu().reshape(-1).contiguous()
            sha.update(f"T{item.dtype}{tuple(item.shape)}".encode())
            sha.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(item, dict):
            sha.update(b"{")
            for key in sorted(item, key=repr):
                sha.update(repr(key).encode())
                feed(item[key])
            sha.update(b"}")
        elif isinstance(item, list | tuple):
            sha.update(b"[")
            for element in item:
                feed(element)
            sha.update(b"]")
        else:
            sha.update(repr(item).encode())

    feed(value)
    return sha.hexdigest()


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` of ``state`` and its checksum that leaves either the old file or the new
    one, never a torn one.

    Args:
        state: Tensors and plain values.
        path: The checkpoint file.
    """
    stamped = {**state, CHECKSUM: digest(state)}
    # serialised in memory, then written by Python: a full disk is then an OSError (ENOSPC),
    # which the writer names, not torch's zip writer's "unexpected pos"
    buffer = io.BytesIO()
    torch.save(stamped, buffer)
    atomic_write(path, lambda temporary: temporary.write_bytes(buffer.getbuffer()))


def load(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint this project wrote, loaded without unpickling any object.

    Raises :class:`~cxr_paper.errors.RunError` naming ``path`` when it cannot be read.

    Args:
        path: The checkpoint file.
        device: Where its tensors go.

    Returns:
        The state :func:`save_atomic` saved.

    Raises:
        RunError: Unreadable, torn, or its checksum does not match.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch's weights-only unpickler on damaged bytes: IndexError too
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(
            f"{path}: not a readable checkpoint of this project ({detail[:200]}); it is damaged "
            "or holds objects that need pickle. Delete it to redo that stage from its start."
        ) from None
    if not isinstance(state, dict):
        raise RunError(f"{path}: a checkpoint holds a dict, this holds {type(state).__name__}.")
    expected = state.pop(CHECKSUM, None)
    if expected != digest(state):
        problem = "has no checksum (an older version's)" if expected is None else "is damaged"
        raise RunError(
            f"{path}: {problem}: its contents do not match the SHA-256 it was saved with. "
            "Delete it to redo that stage from its start."
        )
    return state
