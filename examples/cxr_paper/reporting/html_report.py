"""``report.html``: the report's tables and figures and a browser of every test image with GT boxes,
per model, kind of map and class, that opens from disk (no server, no network).

The page holds the tables and a small index of the images (names, GT box sizes, hits and misses
per model, map kind and class), so sorting and filtering need nothing else. Each image's pixels
and maps sit in the sibling folder ``<page>_files/`` (``report_files/`` for ``report.html``):
``img/<id>.png`` and ``data/<id>.js``, loaded when the image is shown, since scripts and images
load from ``file://`` where ``fetch`` would not.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup
from matplotlib import colormaps
from PIL import Image

from cxr_paper.configuration.task import Task
from cxr_paper.files.atomic import atomic_text, staged_folder
from cxr_paper.reporting.document import Document
from cxr_paper.reporting.markdown import kind_label

TEMPLATE = Path(__file__).with_name("templates") / "report.html"
#: The page's viewer, copied into the files folder beside it (no JavaScript inside the template).
VIEWER_SCRIPT = TEMPLATE.with_name("viewer.js")


def viridis_hex() -> str:
    """The 256 colours of matplotlib's viridis, as one hex string (colour-blind safe, monotone
    in lightness).

    Returns:
        1,536 hex digits, six per colour.
    """
    colours = (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(int)
    return "".join(f"{r:02x}{g:02x}{b:02x}" for r, g, b in colours)


def _box_sizes(boxes: np.ndarray, size: list[int], frame: tuple[int, int]) -> list[float]:
    """√(w·h) of each box in the annotations' frame (the boxes are in the evaluated image's
    pixels, ``size`` = (height, width))."""
    scale = np.sqrt((frame[0] / size[0]) * (frame[1] / size[1]))
    return [float(np.sqrt(w * h) * scale) for _, _, w, h in np.asarray(boxes).reshape(-1, 4)]


def _per_entry(
    name: str, viewers: Mapping[str, Mapping[str, Any]], entry: Callable[[dict], Any]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model: {map kind: {class: entry(record entry)}}}`` of one image, for the models that
    scored it."""
    return {
        model: {
            kind: {c: entry(e) for c, e in entries.items()}
            for kind, entries in viewer[name]["kinds"].items()
        }
        for model, viewer in viewers.items()
        if name in viewer
    }


def files_folder(page: Path) -> str:
    """The sibling folder of a page's images and data: ``report.html`` -> ``report_files``.

    Args:
        page: The HTML page.

    Returns:
        The folder's name.
    """
    return f"{page.stem}_files"


def build_index(
    viewers: Mapping[str, Mapping[str, Any]],
    patients: Mapping[str, int],
    folder: str,
    task: Task,
) -> dict:
    """The page's index: per image its id, name, GT box sizes and per model, map kind and class
    ``[GT boxes hit, GT boxes, false positives]``.

    Args:
        viewers: Per model, per image name, its viewer record.
        patients: Per image name, its patient.
        folder: The page's files folder (where each image's data goes).
        task: The classes.

    Returns:
        The index, JSON-ready.
    """
    models = list(viewers)
    names = sorted({name for viewer in viewers.values() for name in viewer})
    kinds: list[str] = []
    for viewer in viewers.values():
        for record in viewer.values():
            kinds += [v for v in record["kinds"] if v not in kinds]
    images = []
    for position, name in enumerate(names):
        first = next(viewer[name] for viewer in viewers.values() if name in viewer)
        sizes = {
            c: min(_box_sizes(b, first["size"], task.box_frame))
            for c, b in first["gt"].items()
            if len(b)
        }
        out = _per_entry(
            name,
            viewers,
            lambda e: [
                int(np.sum(e["hits"])),
                len(e["hits"]),
                int(np.sum(~np.asarray(e["box_hits"], bool))),
            ],
        )
        images.append(
            {
                "id": position,
                "name": name,
                "patient": int(patients.get(name, -1)),
                "size": first["size"],
                "sizes": sizes,
                "out": out,
            }
        )
    return {
        "folder": folder,
        "models": models,
        "kinds": kinds,
        "kind_labels": {v: kind_label(v) for v in kinds},
        "classes": list(task.box_classes),
        "frame": f"{task.name}'s {task.box_frame[0]} × {task.box_frame[1]} frame",
        "viridis": viridis_hex(),
        "images": images,
    }


def _image_data(name: str, viewers: Mapping[str, Mapping[str, Any]]) -> dict:
    first = next(viewer[name] for viewer in viewers.values() if name in viewer)
    models = _per_entry(
        name,
        viewers,
        lambda e: {
            "prob": round(float(e["prob"]), 4),
            "shape": list(np.asarray(e["map"]).shape),
            "map": base64.b64encode(np.ascontiguousarray(e["map"], np.uint8)).decode(),
            "boxes": np.round(np.asarray(e["boxes"], float), 2).tolist(),
            "hits": [bool(h) for h in e["hits"]],
            "box_hits": [bool(h) for h in e["box_hits"]],
        },
    )
    gt = {c: np.round(np.asarray(b, float), 2).tolist() for c, b in first["gt"].items()}
    return {"gt": gt, "models": models}


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element: ``<``, ``>`` and ``&``
    written as ``\\u003c`` ... (as Django's ``json_script``), so a name such as
    ``<!--<script>`` or ``</script>`` cannot change how the page is parsed.

    Args:
        value: JSON-ready data.

    Returns:
        Compact JSON text.

    Examples:
        >>> script_json({"name": "<!--<script>"})
        '{"name":"\\\\u003c!--\\\\u003cscript\\\\u003e"}'
    """
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_html_report(
    path: Path,
    document: Document,
    viewers: Mapping[str, Mapping[str, Any]],
    patients: Mapping[str, int],
    title: str,
    prob_threshold: float,
    heatmap_threshold: float,
    task: Task,
) -> Path:
    """Write ``path`` (e.g. ``report.html``) and its files folder (``report_files/``) beside it.

    Args:
        path: The page to write.
        document: The report whose tables and figures the page shows (figures linked
            relatively, as in its Markdown).
        viewers: Per model, the test result's ``viewer`` records
            (:mod:`cxr_paper.scoring.viewer_data`).
        patients: Image name -> patient id.
        title: The page's title (text, escaped).
        prob_threshold: The probability threshold the boxes were made with.
        heatmap_threshold: ``Q``, the page's initial heatmap threshold.
        task: The data set's box classes and box frame.

    Returns:
        ``path``.
    """
    folder = path.parent / files_folder(path)
    index = build_index(viewers, patients, folder.name, task)
    with staged_folder(folder) as staging:
        (staging / "img").mkdir()
        (staging / "data").mkdir()
        shutil.copyfile(VIEWER_SCRIPT, staging / VIEWER_SCRIPT.name)
        for image in index["images"]:
            name, image_id = image["name"], image["id"]
            first = next(viewer[name] for viewer in viewers.values() if name in viewer)
            Image.fromarray(np.asarray(first["pixels"], np.uint8)).save(
                staging / "img" / f"{image_id}.png", optimize=True
            )
            payload = script_json(_image_data(name, viewers))
            (staging / "data" / f"{image_id}.js").write_text(
                f"window.cxrViewer.receive({image_id},{payload});\n"
            )
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = environment.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        title=title,
        files=folder.name,
        tables=document.to_html(),
        index=Markup(script_json(index)),
        prob_threshold=prob_threshold,
        heatmap_threshold=heatmap_threshold,
    )
    atomic_text(path, page)
    return path
