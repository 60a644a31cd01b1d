"""A prepared store: every image resized once to ``size x size`` uint8, memory-mapped.

``ROOT/prepared_<size>/images.npy`` holds an ``(N, size, size)`` uint8 array and ``index.json``
the image names, the sizes of their PNGs and each source file's fingerprint (bytes and
modification time). It is written into a temporary folder and renamed into place, so an
interrupted run leaves no half-written store. A data set that reads the store first compares the
fingerprints with the files under its root: an image replaced after ``prepare``, or a cache
prepared from another copy of the data, is refused (:class:`StaleStoreError`) instead of
training on other pixels. Where the data root is read-only
(a cluster or Kaggle mount), pass ``cache=DIR``: the store is then ``DIR/prepared_<size>`` (one
cache folder per data set).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from cxr14_data.images import decode_gray, find_images

INDEX_FILE = "index.json"
ARRAY_FILE = "images.npy"
PREPARE_AGAIN = "run `python -m cxr14_data prepare` again"


class StaleStoreError(ValueError):
    """A prepared store that does not match the images it stands for, or a damaged one."""


def fingerprint(path: str | os.PathLike) -> list[int]:
    """``[bytes, modification time in ns]`` of a source image, as ``make`` and ``rsync`` compare."""
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns]


def prepared_dir(
    root: str | os.PathLike, size: int, cache: str | os.PathLike | None = None
) -> Path:
    """Where the store of ``size`` lives: ``CACHE/prepared_<size>``, default ``ROOT/...``."""
    return Path(root if cache is None else cache) / f"prepared_{size}"


def _load_resized(job: tuple[str, int]) -> tuple[np.ndarray, tuple[int, int]]:
    path, size = job
    gray = decode_gray(path)
    resized = Image.fromarray(gray).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8), gray.shape


class _InProcess:
    """The ``map`` of an executor, run in this process."""

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn, items, chunksize: int = 1):
        return map(fn, items)


def _fill(
    temporary: Path,
    paths: dict[str, Path],
    selected: list[str],
    size: int,
    workers: int,
    progress: bool,
    root: str | os.PathLike,
) -> None:
    """Write the store's array and index into ``temporary``, both fsync-ed."""
    mask = os.umask(0o022)
    os.umask(mask)
    temporary.chmod(0o777 & ~mask)  # mkdtemp's 0700 would hide a shared cache from the group
    array = np.lib.format.open_memmap(
        temporary / ARRAY_FILE, mode="w+", dtype=np.uint8, shape=(len(selected), size, size)
    )
    stored_sizes = []
    fingerprints = {n: fingerprint(paths[n]) for n in selected}
    jobs = [(str(paths[n]), size) for n in selected]
    with ProcessPoolExecutor(workers) if workers > 0 else _InProcess() as pool:
        results = pool.map(_load_resized, jobs, chunksize=64)
        for i, (image, shape) in enumerate(
            tqdm(
                results, total=len(jobs), desc=f"prepare {size}px", unit="img", disable=not progress
            )
        ):
            array[i] = image
            stored_sizes.append(shape)
    array.flush()
    del array
    index = {
        "size": size,
        "root": str(Path(root).resolve()),
        "names": selected,
        "stored_sizes": [list(s) for s in stored_sizes],
        "fingerprints": [fingerprints[n] for n in selected],
    }
    with open(temporary / INDEX_FILE, "w", encoding="utf-8") as handle:
        json.dump(index, handle)
        handle.flush()
        os.fsync(handle.fileno())
    with open(temporary / ARRAY_FILE, "rb+") as handle:
        os.fsync(handle.fileno())


def prepare(
    root: str | os.PathLike,
    size: int = 256,
    names: Iterable[str] | None = None,
    workers: int = 0,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> Path:
    """Resize every image under ``root`` (or only ``names``) into a prepared store.

    Args:
        root: the data-set folder (either NIH image layout).
        size: side of the stored square images.
        names: image file names to include (default: all found).
        workers: decoding processes (0: in this process).
        progress: show a tqdm bar.
        cache: write the store under this folder instead of ``root``.

    Returns:
        The store's folder, ``ROOT/prepared_<size>`` (or ``CACHE/prepared_<size>``).
    """
    paths = find_images(root)
    selected = sorted(paths) if names is None else sorted(set(names))
    missing = [n for n in selected if n not in paths]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} images not found under {root}, e.g. {missing[:3]}."
        )
    final = prepared_dir(root, size, cache)
    final.parent.mkdir(parents=True, exist_ok=True)
    # unique: two prepares of one folder never write into each other's temporary store
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        _fill(temporary, paths, selected, size, workers, progress, root)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)  # a failed prepare leaves nothing behind
        raise
    previous = temporary.with_suffix(".old")
    if final.exists():
        final.rename(previous)
    temporary.rename(final)
    shutil.rmtree(previous, ignore_errors=True)
    return final


class PreparedStore:
    """Read access to a prepared store; the array is memory-mapped on first use (per process)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        index_path = self.folder / INDEX_FILE
        try:
            index = json.loads(index_path.read_text())
            self.size: int = int(index["size"])
            self.names: list[str] = [str(n) for n in index["names"]]
            sizes = [(int(h), int(w)) for h, w in index["stored_sizes"]]
            prints = [(int(b), int(t)) for b, t in index.get("fingerprints", [])]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StaleStoreError(
                f"{index_path}: not a readable prepared-store index ({error!r}); {PREPARE_AGAIN}."
            ) from None
        if len(sizes) != len(self.names) or len(prints) not in (0, len(self.names)):
            raise StaleStoreError(f"{index_path}: its lists differ in length; {PREPARE_AGAIN}.")
        if len(set(self.names)) != len(self.names) or self.size < 1:
            raise StaleStoreError(
                f"{index_path}: repeated image names or a size below 1; {PREPARE_AGAIN}."
            )
        self.stored_sizes = dict(zip(self.names, sizes, strict=True))
        self.fingerprints = dict(zip(self.names, prints, strict=True)) if prints else {}
        self._rows = {name: i for i, name in enumerate(self.names)}
        self._array: np.ndarray | None = None

    def check_sources(self, paths: Mapping[str, str | os.PathLike], names: Iterable[str]) -> None:
        """Refuse the store unless each of ``names`` was prepared from the file ``paths[name]``
        as it is now (same bytes count and modification time)."""
        if not self.fingerprints:
            raise StaleStoreError(
                f"{self.folder}: prepared by an older cxr14-data, without the fingerprints "
                f"that tie it to its images; {PREPARE_AGAIN}."
            )
        changed = [
            name
            for name in names
            if name not in paths or tuple(fingerprint(paths[name])) != self.fingerprints[name]
        ]
        if changed:
            raise StaleStoreError(
                f"{self.folder}: {len(changed)} images differ from the files it was prepared "
                f"from (replaced, touched or another copy of the data), e.g. {changed[:3]}; "
                f"{PREPARE_AGAIN}, or pass another --cache."
            )

    def _check_array(self, array: np.ndarray) -> np.ndarray:
        expected = (len(self.names), self.size, self.size)
        if array.dtype != np.uint8 or array.shape != expected:
            raise StaleStoreError(
                f"{self.folder / ARRAY_FILE}: {array.dtype} {array.shape}, expected uint8 "
                f"{expected}; {PREPARE_AGAIN}."
            )
        return array

    @classmethod
    def open(
        cls, root: str | os.PathLike, size: int, cache: str | os.PathLike | None = None
    ) -> PreparedStore | None:
        """The store for ``size`` under ``root`` (or ``cache``), ``None`` if never prepared."""
        folder = prepared_dir(root, size, cache)
        return cls(folder) if (folder / INDEX_FILE).is_file() else None

    def __contains__(self, name: str) -> bool:
        return name in self._rows

    def read(self, name: str) -> np.ndarray:
        """The ``(size, size)`` uint8 image."""
        if self._array is None:
            try:
                array = np.load(self.folder / ARRAY_FILE, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as error:
                raise StaleStoreError(
                    f"{self.folder / ARRAY_FILE}: cannot be read ({error}); {PREPARE_AGAIN}."
                ) from None
            self._array = self._check_array(array)
        return np.array(self._array[self._rows[name]])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_array"] = None  # each DataLoader worker maps the file itself
        return state
