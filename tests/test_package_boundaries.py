"""A package never imports a sibling package: not in its source, its tests or its metadata."""

import ast
import tomllib
from pathlib import Path

import pytest

PACKAGES_DIR = Path(__file__).resolve().parents[1] / "packages"
IMPORT_NAMES = {p.name: f"{p.name.replace('-', '_')}" for p in PACKAGES_DIR.iterdir() if p.is_dir()}


def _imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_all_five_packages_are_present():
    assert set(IMPORT_NAMES) == {
        "weighted-bce",
        "multires-backbone",
        "pcm-seam",
        "cam-boxes-iobb",
        "cxr14-data",
    }


@pytest.mark.parametrize("dist", sorted(IMPORT_NAMES))
def test_no_sibling_imports(dist):
    siblings = {name for d, name in IMPORT_NAMES.items() if d != dist}
    offenders = []
    for path in sorted((PACKAGES_DIR / dist).rglob("*.py")):
        hits = _imported_top_level_modules(path) & siblings
        offenders += [f"{path.relative_to(PACKAGES_DIR)} imports {name}" for name in sorted(hits)]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("dist", sorted(IMPORT_NAMES))
def test_no_sibling_dependencies(dist):
    project = tomllib.loads((PACKAGES_DIR / dist / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    declared = {
        r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip()
        for r in requirements
    }
    assert not declared & (set(IMPORT_NAMES) - {dist}), f"{dist} depends on a sibling: {declared}"


@pytest.mark.parametrize("dist", sorted(IMPORT_NAMES))
def test_layout(dist):
    root = PACKAGES_DIR / dist
    module = root / "src" / IMPORT_NAMES[dist]
    for required in (root / "README.md", module / "__init__.py", module / "py.typed"):
        assert required.is_file(), f"missing {required.relative_to(PACKAGES_DIR)}"
    assert any((root / "tests").glob("test_*.py")), f"{dist} has no tests"


def test_boundary_check_catches_a_sibling_import(tmp_path):
    offender = tmp_path / "bad.py"
    offender.write_text("from pcm_seam import PCM\nimport weighted_bce.loss\n")
    assert _imported_top_level_modules(offender) >= {"pcm_seam", "weighted_bce"}
