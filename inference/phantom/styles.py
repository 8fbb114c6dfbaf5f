"""Machine styles: how different manufacturers' scanners and probes render a sweep."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np


@dataclass(frozen=True)
class MachineStyle:
    """Scanner settings that change the look of the images."""

    manufacturer: str
    model: str
    probe: str
    probe_type: str  # manifest's probe_type
    transducer_mhz: float
    half_angle_deg: float  # sector half-width
    r0_mm: float  # probe radius (virtual apex behind the face)
    gain_db: float
    dynamic_range_db: float
    axial_psf: float  # axial PSF sigma in polar samples (grain along depth)
    lateral_psf: float  # lateral PSF sigma in polar lines (grain across)
    attenuation_db_cm: float  # net attenuation left after time-gain compensation
    persistence: float  # temporal averaging weight of the previous frame
    floor: int  # grey level of the darkest sector pixel
    fps: int
    font_scale: float
    text_grey: int

    def describe(self) -> dict[str, object]:
        """Plain-data description for the truth file."""
        return asdict(self)


STYLES: tuple[MachineStyle, ...] = (
    MachineStyle(
        "GE Healthcare",
        "LOGIQ E9",
        "C1-6-D",
        "microconvex",
        7.5,
        38.0,
        11.0,
        0.0,
        43.0,
        2.0,
        2.2,
        0.35,
        0.4,
        12,
        25,
        0.42,
        220,
    ),
    MachineStyle(
        "Philips",
        "EPIQ 7",
        "C10-3v",
        "microconvex",
        8.0,
        39.0,
        10.0,
        1.0,
        42.0,
        1.8,
        2.0,
        0.30,
        0.35,
        11,
        27,
        0.40,
        205,
    ),
    MachineStyle(
        "Canon",
        "Aplio i800",
        "PVI-475BX",
        "microconvex",
        6.5,
        36.0,
        13.0,
        1.5,
        44.0,
        2.3,
        2.4,
        0.30,
        0.45,
        13,
        24,
        0.45,
        230,
    ),
    MachineStyle(
        "Siemens Healthineers",
        "ACUSON Sequoia",
        "10V4",
        "phased",
        7.0,
        40.0,
        6.0,
        0.5,
        43.0,
        2.1,
        2.1,
        0.32,
        0.35,
        12,
        26,
        0.40,
        215,
    ),
    MachineStyle(
        "Mindray",
        "Resona 7",
        "C11-3U",
        "microconvex",
        8.5,
        37.0,
        9.0,
        0.5,
        42.0,
        1.7,
        1.9,
        0.28,
        0.4,
        10,
        28,
        0.42,
        210,
    ),
)


def pick_style(rng: np.random.Generator, name: str | None = None) -> MachineStyle:
    """A style by model name, or a random one with small per-case setting changes."""
    if name is not None:
        for style in STYLES:
            if style.model.lower() == name.lower():
                return style
        raise ValueError(f"unknown style {name!r} (known: {', '.join(s.model for s in STYLES)})")
    base = STYLES[int(rng.integers(0, len(STYLES)))]
    return replace(
        base,
        gain_db=base.gain_db + float(rng.uniform(-2.0, 2.0)),
        dynamic_range_db=base.dynamic_range_db + float(rng.uniform(-3.0, 3.0)),
    )
