"""The one task runner: ``nox -s tests``, ``nox -s lint``, ``nox -s isolated``.

Every session installs under ``constraints.txt`` so that nox, CI and the README use one pinned
environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = str(ROOT / "constraints.txt")
PACKAGES = {
    "weighted-bce": "weighted_bce",
    "multires-backbone": "multires_backbone",
    "pcm-seam": "pcm_seam",
    "cam-boxes-iobb": "cam_boxes_iobb",
    "cxr14-data": "cxr14_data",
}
# The real NIH metadata CSVs ship inside this wheel; tests read them as a fixture, nothing more.
METADATA_FIXTURE = "torchxrayvision"
# Optional extras' dependencies, tested in the full session (cam-boxes-iobb[torchmetrics]; the
# isolated sessions test each package without them), and Playwright, which drives the system's
# chromium for the report.html tests (it downloads no browser).
OPTIONAL_EXTRAS = ("torchmetrics", "playwright")
OPTIONAL_MODULES = {"cam-boxes-iobb": "cam_boxes_iobb/torch_metrics.py"}

nox.options.sessions = ["lint", "tests"]
nox.options.error_on_missing_interpreters = True


def _install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def _install_metadata_fixture(session: nox.Session) -> None:
    _install(session, "--no-deps", METADATA_FIXTURE)


def _pytest_args(dist_names: list[str]) -> list[str]:
    """Tests, module doctests (via --pyargs: they import what is installed) and README doctests."""
    args = ["--doctest-modules", "--doctest-glob=README.md"]
    for dist in dist_names:
        args += [f"packages/{dist}/tests", f"packages/{dist}/README.md"]
    args += ["--pyargs", *(PACKAGES[dist] for dist in dist_names)]
    return args


def _install_everything(session: nox.Session, extra: str = "", examples_extra: str = "") -> None:
    editable = [f"-e{ROOT / 'packages' / dist}{extra}" for dist in PACKAGES]
    _install(session, *editable, f"-e{ROOT / 'examples'}{examples_extra}")


def _run_all_tests(session: nox.Session, *extra: str) -> None:
    _install_everything(session, "[test]", "[deploy]")  # ONNX and DICOM outputs are tested
    # with its dependencies here: score_model.py's tests run a torchxrayvision DenseNet
    _install(session, *OPTIONAL_EXTRAS, METADATA_FIXTURE)
    session.run(
        "pytest",
        *_pytest_args(list(PACKAGES)),
        "tests",
        "examples/cxr_paper",  # module doctests
        "examples/tests",
        "benchmarks/tests",
        *extra,
        *session.posargs,
        env={"CXR14_REQUIRE_REAL_METADATA": "1", "CXR_REQUIRE_TEST_DEPENDENCIES": "1"},
    )


@nox.session
def tests(session: nox.Session) -> None:
    """All packages, examples and benchmarks in one venv: every test and doctest."""
    _run_all_tests(session)


@nox.session(reuse_venv=True)
def quick(session: nox.Session) -> None:
    """Every test but the end-to-end pipeline runs (marked ``slow``): a few minutes on 2 cores.
    Reuses the venv of an earlier ``quick``; CI runs ``tests``, the whole suite."""
    _run_all_tests(session, "-m", "not slow")


@nox.session(reuse_venv=True)
def demo(session: nox.Session) -> None:
    """The main job: reproduce_paper.py on the synthetic default (--preset demo), CPU, < 10 min.

    Extra arguments go to the script, e.g. ``nox -s demo -- --out runs/mine --epochs 4``.
    """
    _install_everything(session)
    session.run("python", "examples/reproduce_paper.py", "--preset", "demo", *session.posargs)


@nox.session
@nox.parametrize("dist", list(PACKAGES))
def isolated(session: nox.Session, dist: str) -> None:
    """Build one package's wheel, install it alone with its declared deps, run its own tests."""
    with tempfile.TemporaryDirectory() as wheel_dir:
        session.run(
            "pip",
            "wheel",
            "--no-deps",
            "-c",
            CONSTRAINTS,
            "-w",
            wheel_dir,
            str(ROOT / "packages" / dist),
        )
        (wheel,) = Path(wheel_dir).glob("*.whl")
        _install(session, f"{wheel}[test]")
    if dist == "cxr14-data":
        _install_metadata_fixture(session)
    module = PACKAGES[dist]
    session.run(
        "python",
        "-c",
        f"import {module}, sys; f = {module}.__file__; "
        f"sys.exit(0 if 'site-packages' in f else f'{module} imported from {{f}}, not the wheel')",
    )
    ignore = [f"--ignore-glob=*/{OPTIONAL_MODULES[dist]}"] if dist in OPTIONAL_MODULES else []
    session.run(
        "pytest",
        *_pytest_args([dist]),
        *ignore,
        *session.posargs,
        env={"CXR14_REQUIRE_REAL_METADATA": "1"},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The CPU benchmarks; results go to benchmarks/results/ as JSON (device, versions, date)."""
    _install_everything(session)
    results = ROOT / "benchmarks" / "results"
    session.run(
        "python",
        "benchmarks/inference_speed.py",
        "--device",
        "cpu",
        "--json",
        str(results / "inference_cpu.json"),
        *session.posargs,
    )
    session.run(
        "python",
        "benchmarks/stages.py",
        "--device",
        "cpu",
        "--json",
        str(results / "stages_cpu.json"),
    )


@nox.session
def docs(session: nox.Session) -> None:
    """The API reference (mkdocs + mkdocstrings, from the packages' docstrings), built with
    warnings as errors (``strict`` in mkdocs.yml) into a temporary folder."""
    _install(session, "mkdocs", "mkdocstrings-python")
    with tempfile.TemporaryDirectory() as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and the import contracts (import-linter, from
    pyproject.toml: cxr_paper's layers, the packages' independence, no import cycles)."""
    _install(session, "ruff", "import-linter")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # the contracts read the source files; nothing is imported, so nothing need be installed
    sources = [str(ROOT / "packages" / dist / "src") for dist in PACKAGES]
    sources.append(str(ROOT / "examples"))
    session.run("lint-imports", env={"PYTHONPATH": os.pathsep.join(sources)})
