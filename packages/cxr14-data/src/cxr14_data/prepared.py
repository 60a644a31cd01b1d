"""A prepared store: every image resized once to ``size x size`` uint8, memory-mapped.

``ROOT/prepared_<size>/images.npy`` holds an ``(N, size, size)`` uint8 array and ``index.json``
the image names and the sizes of their PNGs. It is written into a temporary folder and renamed
into place, so an interrupted run leaves no half-written store. Where the data root is read-only
(a cluster or Kaggle mount), pass ``cache=DIR``: the store is then ``DIR/prepared_<size>`` (one
cache folder per data set).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from cxr14_data.images import decode_gray, find_images

INDEX_FILE = "index.json"
ARRAY_FILE = "images.npy"


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
    temporary = final.with_name(final.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    array = np.lib.format.open_memmap(
        temporary / ARRAY_FILE, mode="w+", dtype=np.uint8, shape=(len(selected), size, size)
    )
    stored_sizes = []
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
    }
    (temporary / INDEX_FILE).write_text(json.dumps(index))
    shutil.rmtree(final, ignore_errors=True)
    temporary.rename(final)
    return final


class PreparedStore:
    """Read access to a prepared store; the array is memory-mapped on first use (per process)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        index = json.loads((self.folder / INDEX_FILE).read_text())
        self.size: int = index["size"]
        self.names: list[str] = index["names"]
        self.stored_sizes = {
            n: (int(h), int(w)) for n, (h, w) in zip(self.names, index["stored_sizes"], strict=True)
        }
        self._rows = {name: i for i, name in enumerate(self.names)}
        self._array: np.ndarray | None = None

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
            self._array = np.load(self.folder / ARRAY_FILE, mmap_mode="r")
        return np.array(self._array[self._rows[name]])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_array"] = None  # each DataLoader worker maps the file itself
        return state
