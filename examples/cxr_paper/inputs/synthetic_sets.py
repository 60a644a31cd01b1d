"""The generated data sets a run can use: ChestX-ray14's layout (``--data synthetic``) or another
published layout's (``--data LAYOUT:synthetic``), one folder per setting they depend on."""

from __future__ import annotations

from pathlib import Path

from cxr14_data import make_synthetic
from cxr14_data.layouts import make_synthetic_layout
from cxr_paper.configuration.config import RunConfig


def synthetic_folder_name(config: RunConfig, layout: str = "nih") -> str:
    """Every setting the generated set depends on, so that two of them never share a folder.

    Args:
        config: The run's settings.
        layout: The layout it is written in.

    Returns:
        A folder name.
    """
    kind = "synthetic" if layout == "nih" else f"synthetic_{layout}"
    return (
        f"{kind}_{config.synthetic_size}px_{config.synthetic_patients}p_"
        f"{config.synthetic_difficulty}_seed{config.data_seed}"
    )


def ensure_synthetic(config: RunConfig, parent: Path, layout: str = "nih") -> Path:
    """The run's synthetic set in ``parent`` (named by :func:`synthetic_folder_name`), generated
    if it is not there yet.

    Args:
        config: The run's settings.
        parent: Where the synthetic sets live.
        layout: ``"nih"`` or a layout of :data:`cxr14_data.layouts.LAYOUTS`.

    Returns:
        The set's folder.
    """
    root = parent / synthetic_folder_name(config, layout)
    done = root / ".complete"
    if layout == "nih" and not (root / "Data_Entry_2017.csv").is_file():
        make_synthetic(
            root,
            n_patients=config.synthetic_patients,
            image_size=config.synthetic_size,
            seed=config.data_seed,
            difficulty=config.synthetic_difficulty,
        )
    elif layout != "nih" and not done.is_file():
        make_synthetic_layout(
            root,
            layout,
            n_patients=config.synthetic_patients,
            image_size=config.synthetic_size,
            seed=config.data_seed,
            difficulty=config.synthetic_difficulty,
        )
        done.write_text("")
    return root
