"""The file contract for class maps a model produced, read one image at a time.

Two layouts, both plain numpy (read with ``allow_pickle=False``; nothing in them is executed):

- **One ``.npz``** (:func:`save_maps` writes it) with ``maps`` ``(N, K, h, w)`` float (any real
  values: CAMs, Grad-CAMs, saliency), ``image_ids`` ``(N,)`` str (the annotations' image names),
  ``classes`` ``(K,)`` str (the maps' class order), and optionally ``probs`` ``(N, K)`` in
  ``[0, 1]`` (the classifier's probabilities; the paper's protocol keeps a class's boxes only
  where its probability exceeds a threshold). ``maps`` is streamed row by row from the archive,
  so memory holds one image's maps whatever ``N`` is.
- **A folder** as wsolevaluation reads score maps (``<root>/<image_id>.npy``; ids may contain
  ``/``), one ``(K, h, w)`` array per image, plus ``maps.json``: ``{"classes": [...]}``, with
  optionally ``"image_ids": [...]`` (else every ``.npy`` below the folder, sorted) and
  ``"probs": {image_id: [K numbers]}``.

Convention:
    A map covers the whole image as annotated (any ``h x w``, any aspect ratio: it is resized
    to the annotation's frame, or to the scoring size, before it is scored). Class ``k`` of a map
    is ``classes[k]``; classes the annotations do not localize are ignored, and localized classes
    the maps lack are not scored (the score says which).
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from cam_boxes_iobb._atomic import write_atomically

#: Bounds on what a maps file may declare before anything is allocated.
MAX_CLASSES = 1024
MAX_MAP_PIXELS = 4096 * 4096
MAX_IMAGES = 10_000_000
#: The most bytes the names (``image_ids``, ``classes``) and ``probs`` may decompress to: a
#: 300 KB zip bomb can declare gigabytes of names. 256 MiB holds 1.6 M ids of 40 characters
#: (numpy stores 4 bytes a character), 15 times the NIH set.
MAX_ARRAY_BYTES = 256 * 2**20
#: The longest image id or class name (characters).
MAX_NAME_LENGTH = 1024
FOLDER_META = "maps.json"


class MapsError(ValueError):
    """A maps file or folder does not follow the contract; the message names it."""


@dataclass(frozen=True)
class ImageMaps:
    """One image's class maps ``(K, h, w)`` float32 and, if given, probabilities ``(K,)``."""

    image_id: str
    maps: np.ndarray
    probs: np.ndarray | None


def _header(handle: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` stream, refusing object arrays and Fortran order."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile) as error:
        raise MapsError(f"{where}: not a numpy array ({error}).") from None
    if dtype.hasobject:
        raise MapsError(f"{where}: holds Python objects; the contract is numbers and strings.")
    if fortran and len(shape) > 1:
        raise MapsError(f"{where}: Fortran order; save it C-contiguous (np.ascontiguousarray).")
    if any(s < 0 for s in shape):
        raise MapsError(f"{where}: declares a negative size {tuple(shape)}.")
    if dtype.itemsize == 0:
        raise MapsError(f"{where}: dtype {dtype.str} holds nothing (zero bytes per entry).")
    return tuple(int(s) for s in shape), dtype


def _count(shape: tuple[int, ...]) -> int:
    """Entries of ``shape`` as a Python integer (no int64 overflow)."""
    count = 1
    for size in shape:
        count *= size
    return count


def _read_exact(handle: IO[bytes], size: int, where: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise MapsError(f"{where}: ends after {len(data)} of {size} bytes (truncated).")
    return data


def _read_small(
    handle: IO[bytes], where: str, limit: int, kinds: str, expected: tuple[int, ...] | None = None
) -> np.ndarray:
    """A small array (names or probabilities), its declaration checked before it is read:
    at most ``limit`` entries and :data:`MAX_ARRAY_BYTES` bytes, of a dtype kind in ``kinds``,
    of the ``expected`` shape if given."""
    shape, dtype = _header(handle, where)
    count = _count(shape)
    if count > limit:
        raise MapsError(f"{where}: declares {count} entries, more than {limit}.")
    if dtype.kind not in kinds:
        wanted = "strings" if kinds == "U" else "numbers"
        raise MapsError(f"{where}: expected {wanted}, got dtype {dtype.str}.")
    if dtype.kind == "U" and dtype.itemsize // 4 > MAX_NAME_LENGTH:
        raise MapsError(
            f"{where}: names of up to {dtype.itemsize // 4} characters, more than "
            f"{MAX_NAME_LENGTH}."
        )
    if count * dtype.itemsize > MAX_ARRAY_BYTES:
        raise MapsError(
            f"{where}: declares {count * dtype.itemsize:,} bytes, more than {MAX_ARRAY_BYTES:,}."
        )
    if expected is not None and shape != expected:
        raise MapsError(f"{where}: shape {shape}, expected {expected}.")
    return np.frombuffer(_read_exact(handle, count * dtype.itemsize, where), dtype).reshape(shape)


def _names(array: np.ndarray, where: str) -> list[str]:
    if array.dtype.kind not in "UT" or array.ndim != 1:
        raise MapsError(
            f"{where}: expected a 1-D array of strings, got {array.dtype} {array.shape}."
        )
    names = [str(v) for v in array]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise MapsError(f"{where}: names must be non-empty and distinct.")
    return names


def _check_maps_shape(shape: tuple[int, ...], dtype: np.dtype, classes: int, where: str) -> None:
    if dtype.kind != "f":
        raise MapsError(f"{where}: maps must be floating point, got {dtype}.")
    if len(shape) != 3 or shape[0] != classes or _count(shape[1:]) > MAX_MAP_PIXELS:
        raise MapsError(
            f"{where}: expected maps of shape ({classes}, h, w) with h*w <= {MAX_MAP_PIXELS}, "
            f"got {shape}."
        )
    if 0 in shape:
        raise MapsError(f"{where}: empty maps {shape}.")


def _check_values(maps: np.ndarray, probs: np.ndarray | None, where: str) -> None:
    if not np.isfinite(maps).all():
        raise MapsError(f"{where}: maps hold NaN or inf.")
    if probs is not None and (not np.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1):
        raise MapsError(f"{where}: probabilities must lie in [0, 1].")


class MapSet(ABC):
    """Class maps on disk, iterated one image at a time (:func:`open_maps` opens either layout).

    Attributes:
        path: the file or folder.
        classes: the maps' class order.
        image_ids: the images, in the order iteration yields them.
        has_probs: whether probabilities come with the maps.
    """

    path: Path
    classes: tuple[str, ...]
    image_ids: list[str]
    has_probs: bool

    def __len__(self) -> int:
        return len(self.image_ids)

    @abstractmethod
    def __iter__(self) -> Iterator[ImageMaps]:
        """Each image's maps, in ``image_ids`` order."""


class NpzMaps(MapSet):
    """The single-``.npz`` layout; ``maps`` is read row by row from the archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with zipfile.ZipFile(path) as archive:
                members = set(archive.namelist())
                missing = {"maps.npy", "image_ids.npy", "classes.npy"} - members
                if missing:
                    raise MapsError(
                        f"{path}: lacks {sorted(m[:-4] for m in missing)}; the contract is maps "
                        "(N, K, h, w), image_ids (N,), classes (K,) and optionally probs (N, K)."
                    )
                with archive.open("classes.npy") as handle:
                    where = f"{path}: classes"
                    classes = _names(_read_small(handle, where, MAX_CLASSES, "U"), where)
                with archive.open("image_ids.npy") as handle:
                    where = f"{path}: image_ids"
                    self.image_ids = _names(_read_small(handle, where, MAX_IMAGES, "U"), where)
                with archive.open("maps.npy") as handle:
                    shape, dtype = _header(handle, f"{path}: maps")
                self.probs = None
                if "probs.npy" in members:
                    with archive.open("probs.npy") as handle:
                        where = f"{path}: probs"
                        expected = (len(self.image_ids), len(classes))
                        probs = _read_small(
                            handle, where, MAX_IMAGES * MAX_CLASSES, "fiu", expected
                        )
                    self.probs = probs.astype(np.float64)
        except (zipfile.BadZipFile, OSError, EOFError, KeyError, zlib.error) as error:
            raise MapsError(f"{path}: not a readable .npz archive ({error}).") from None
        self.classes = tuple(classes)
        self.has_probs = self.probs is not None
        if not shape or shape[0] != len(self.image_ids):
            raise MapsError(
                f"{path}: maps has shape {shape}; expected ({len(self.image_ids)}, "
                f"{len(classes)}, h, w) for its {len(self.image_ids)} image_ids."
            )
        _check_maps_shape(shape[1:], dtype, len(classes), f"{path}: maps")
        self._row_shape, self._dtype = shape[1:], dtype

    def __iter__(self) -> Iterator[ImageMaps]:
        row_bytes = int(np.prod(self._row_shape)) * self._dtype.itemsize
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open("maps.npy") as handle:
                _header(handle, f"{self.path}: maps")
                for i, image_id in enumerate(self.image_ids):
                    where = f"{self.path}: maps of {image_id!r} (row {i})"
                    data = _read_exact(handle, row_bytes, where)
                    maps = np.frombuffer(data, self._dtype).reshape(self._row_shape)
                    probs = None if self.probs is None else self.probs[i]
                    _check_values(maps, probs, where)
                    yield ImageMaps(image_id, maps.astype(np.float32), probs)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
            raise MapsError(f"{self.path}: damaged archive ({error}).") from None


class FolderMaps(MapSet):
    """wsolevaluation's layout: ``<root>/<image_id>.npy`` plus ``maps.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        meta_file = path / FOLDER_META
        if not meta_file.is_file():
            raise MapsError(f"{path}: a maps folder needs {FOLDER_META} with its 'classes'.")
        if meta_file.stat().st_size > MAX_ARRAY_BYTES:
            raise MapsError(f"{meta_file}: larger than {MAX_ARRAY_BYTES:,} bytes.")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MapsError(f"{meta_file}: not valid JSON ({error}).") from None
        if not isinstance(meta, Mapping) or not isinstance(meta.get("classes"), list):
            raise MapsError(f"{meta_file}: expected an object with a list of 'classes'.")
        if len(meta["classes"]) > MAX_CLASSES:
            raise MapsError(
                f"{meta_file}: {len(meta['classes'])} classes, more than {MAX_CLASSES}."
            )
        if not all(isinstance(c, str) and len(c) <= MAX_NAME_LENGTH for c in meta["classes"]):
            raise MapsError(
                f"{meta_file}: 'classes' must be strings of up to {MAX_NAME_LENGTH} characters."
            )
        self.classes = tuple(
            _names(np.asarray(meta["classes"], dtype=str), f"{meta_file}: classes")
        )
        ids = meta.get("image_ids")
        if ids is None:
            ids = sorted(p.relative_to(path).as_posix()[:-4] for p in path.rglob("*.npy"))
        elif not isinstance(ids, list) or not all(
            isinstance(i, str) and len(i) <= MAX_NAME_LENGTH for i in ids
        ):
            raise MapsError(
                f"{meta_file}: 'image_ids' must be a list of strings of up to "
                f"{MAX_NAME_LENGTH} characters."
            )
        self.image_ids = (
            _names(np.asarray(ids, dtype=str), f"{meta_file}: image_ids") if ids else []
        )
        for image_id in self.image_ids:
            if Path(image_id).is_absolute() or ".." in Path(image_id).parts:
                raise MapsError(f"{meta_file}: image id {image_id!r} leaves the folder.")
        probs = meta.get("probs")
        if probs is not None and (
            not isinstance(probs, Mapping) or set(probs) != set(self.image_ids)
        ):
            raise MapsError(
                f"{meta_file}: 'probs' must map every image id to {len(self.classes)} numbers."
            )
        self._probs = probs
        self.has_probs = probs is not None

    def __iter__(self) -> Iterator[ImageMaps]:
        for image_id in self.image_ids:
            file = self.path / f"{image_id}.npy"
            where = str(file)
            try:
                with open(file, "rb") as handle:
                    shape, dtype = _header(handle, where)
                    _check_maps_shape(shape, dtype, len(self.classes), where)
                    data = _read_exact(handle, int(np.prod(shape)) * dtype.itemsize, where)
            except FileNotFoundError:
                raise MapsError(f"{where}: missing (listed in {FOLDER_META}).") from None
            maps = np.frombuffer(data, dtype).reshape(shape)
            probs = None
            if self._probs is not None:
                try:
                    probs = np.asarray(self._probs[image_id], dtype=np.float64)
                except (TypeError, ValueError):
                    raise MapsError(f"{where}: its probabilities are not numbers.") from None
                if probs.shape != (len(self.classes),):
                    raise MapsError(
                        f"{where}: {probs.shape} probabilities for {len(self.classes)} classes."
                    )
            _check_values(maps, probs, where)
            yield ImageMaps(image_id, maps.astype(np.float32), probs)


def open_maps(path: str | os.PathLike) -> MapSet:
    """Open a maps ``.npz`` file or folder (see the module's contract).

    Examples:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "maps.npz"
        >>> _ = save_maps(file, ["a.png", "b.png"], ["Mass", "Nodule"], np.zeros((2, 2, 8, 8)))
        >>> maps = open_maps(file)
        >>> maps.classes, [m.maps.shape for m in maps]
        (('Mass', 'Nodule'), [(2, 8, 8), (2, 8, 8)])
    """
    path = Path(path)
    if path.is_dir():
        return FolderMaps(path)
    if not path.is_file():
        raise MapsError(f"{path}: no such maps file or folder.")
    return NpzMaps(path)


def save_maps(
    path: str | os.PathLike,
    image_ids: Sequence[str],
    classes: Sequence[str],
    maps: Any,
    probs: Any = None,
) -> Path:
    """Write maps ``(N, K, h, w)`` (and probabilities ``(N, K)``) as the ``.npz`` contract,
    atomically (a temporary file, then a rename). Returns the path."""
    path = Path(path)
    maps = np.ascontiguousarray(np.asarray(maps, dtype=np.float32))
    arrays = {
        "maps": maps,
        "image_ids": np.asarray(list(image_ids), dtype=str),
        "classes": np.asarray(list(classes), dtype=str),
    }
    if probs is not None:
        arrays["probs"] = np.asarray(probs, dtype=np.float64)
    if maps.ndim != 4 or maps.shape[:2] != (len(image_ids), len(classes)):
        raise MapsError(
            f"Expected maps of shape ({len(image_ids)}, {len(classes)}, h, w), got {maps.shape}."
        )
    return write_atomically(path, lambda handle: np.savez(handle, **arrays), mode="wb")
