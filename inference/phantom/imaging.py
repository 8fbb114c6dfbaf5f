"""Image formation: convolution speckle on a polar grid, log compression, overlays.

The RF chain is modelled at baseband (IQ): complex Gaussian scatterers whose amplitude is
the tissue's backscatter, convolved with a separable point-spread function (Gaussian
axial pulse envelope × Gaussian lateral beam), plus electronic noise; the envelope is the
modulus, so a homogeneous region gives fully developed (Rayleigh) speckle with
mean/std = 1.91. Net depth attenuation after time-gain compensation, log compression to
the style's dynamic range, persistence (frame averaging), then scan conversion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from inference.phantom.geometry import SectorGeometry
from inference.phantom.styles import MachineStyle

#: Mean envelope of white matter in dB (reflectivity 0.6 × Rayleigh mean 0.886) ...
WHITE_MATTER_DB = 20.0 * math.log10(0.6 * 0.886)
#: ... and the grey level it is displayed at with zero gain: the dynamic range then only
#: sets the contrast, as on a scanner where gain and dynamic range are separate knobs.
WHITE_MATTER_GREY = 96.0
#: Mean/std of a Rayleigh envelope: sqrt(pi/(4-pi)).
RAYLEIGH_SNR = math.sqrt(math.pi / (4.0 - math.pi))
#: Top and bottom of the grey-scale bar (fractions of the frame height) per overlay layout:
#: the real layout's parameter block sits above its bar.
GREY_BAR: dict[str, tuple[float, float]] = {"standard": (0.30, 0.62), "real": (0.44, 0.76)}


def psf_kernel(sigma: float) -> np.ndarray:
    """A 1-D Gaussian kernel with unit energy (sum of squares = 1)."""
    if sigma <= 0:
        raise ValueError(f"PSF sigma must be positive, got {sigma}")
    half = max(1, math.ceil(3.0 * sigma))
    x = np.arange(-half, half + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / np.sqrt((k**2).sum())).astype(np.float32)


def convolve_psf(field: np.ndarray, axial: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Separable convolution of a complex field (n_depth × n_lines) with the PSF."""
    iq = np.empty((*field.shape, 2), dtype=np.float32)
    iq[..., 0] = field.real
    iq[..., 1] = field.imag
    out = cv2.sepFilter2D(iq, cv2.CV_32F, lateral, axial, borderType=cv2.BORDER_REFLECT)
    return out[..., 0] + 1j * out[..., 1]


def complex_gaussian(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Circular complex Gaussian scatterers with E|z|^2 = 1."""
    z = rng.standard_normal((2, *shape), dtype=np.float32) * np.float32(math.sqrt(0.5))
    return z[0] + 1j * z[1]


def speckle_envelope(
    reflectivity: np.ndarray, scatterers: np.ndarray, axial_sigma: float, lateral_sigma: float
) -> np.ndarray:
    """Envelope of the echo of scatterers weighted by a reflectivity map."""
    rf = convolve_psf(reflectivity * scatterers, psf_kernel(axial_sigma), psf_kernel(lateral_sigma))
    return np.abs(rf).astype(np.float32)


@dataclass
class ImageFormer:
    """Turns per-frame reflectivity maps into displayed grey frames, keeping temporal state."""

    geometry: SectorGeometry
    style: MachineStyle
    rng: np.random.Generator
    blur: float = 1.0  # PSF widening (blind sweeps: defocus and motion blur)
    correlation_mm: float = 0.4  # elevational distance over which speckle decorrelates
    #: Opt-in AR(1) coefficient of the speckle and noise fields from frame to frame (None:
    #: today's model, where speckle decorrelates within 0.4 mm of plane motion and the
    #: electronic noise is fresh every frame: 11–13 grey levels of change per frame inside
    #: the sector against 3.4–5.5 in real sweeps).
    speckle_correlation: float | None = None
    _scatterers: np.ndarray | None = field(default=None, init=False, repr=False)
    _previous: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        g = self.geometry
        # A small pool of scatterer fields, read at random offsets: much cheaper than
        # drawing two fresh complex fields per frame, and just as random to the eye.
        pad = 48
        self._pool = [
            complex_gaussian(self.rng, (g.n_depth + pad, g.n_lines + pad)) for _ in range(3)
        ]
        self._pad = pad
        self._axial = psf_kernel(self.style.axial_psf * self.blur * g.n_depth / 256.0)
        self._lateral = psf_kernel(self.style.lateral_psf * self.blur * g.n_lines / 128.0)
        depth_cm = g.depths_mm / 10.0
        db = -self.style.attenuation_db_cm * depth_cm * self.style.transducer_mhz / 7.5
        # Residual TGC ripple of a hand-set slider bank.
        db += 1.2 * np.sin(depth_cm * 1.7 + self.rng.uniform(0, 2 * math.pi))
        self._depth_gain = (10.0 ** (db / 20.0)).astype(np.float32)[:, None]
        # Electronic noise sits just above the bottom of the displayed range.
        scale = 255.0 / self.style.dynamic_range_db
        black_db = WHITE_MATTER_DB - WHITE_MATTER_GREY / scale
        self._noise = np.float32(10.0 ** ((black_db + 4.0) / 20.0))
        self._noise_field: np.ndarray | None = None
        if self.speckle_correlation is not None and not 0.0 <= self.speckle_correlation < 1.0:
            raise ValueError(
                f"speckle correlation must be in [0, 1), got {self.speckle_correlation}"
            )

    def _draw(self) -> np.ndarray:
        g = self.geometry
        k = int(self.rng.integers(0, len(self._pool)))
        oy, ox = (int(v) for v in self.rng.integers(0, self._pad + 1, size=2))
        field = self._pool[k][oy : oy + g.n_depth, ox : ox + g.n_lines]
        if self.rng.random() < 0.5:
            field = field[::-1, ::-1]
        return field

    def form(self, reflectivity: np.ndarray, displacement_mm: float) -> np.ndarray:
        """One polar grey image (uint8, n_depth × n_lines) from a reflectivity map.

        ``displacement_mm`` is how far the imaging plane moved since the previous frame:
        the scatterers decorrelate accordingly (tissue speckle is frozen when the probe
        is still).
        """
        rho = math.exp(-0.5 * (displacement_mm / self.correlation_mm) ** 2)
        if self.speckle_correlation is not None:
            rho = max(rho, self.speckle_correlation)
        self._scatterers = _ar1(self._scatterers, self._draw(), rho)
        rf = convolve_psf(reflectivity * self._scatterers, self._axial, self._lateral)
        rf *= self._depth_gain
        if self.speckle_correlation is None:
            rf += self._noise * self._draw()
        else:
            # Noise evolves too: a fresh field per frame flickers in every dark region.
            self._noise_field = _ar1(self._noise_field, self._draw(), self.speckle_correlation)
            rf += self._noise * self._noise_field
        env = np.abs(rf)
        db = 20.0 * np.log10(env + 1e-7) + self.style.gain_db
        scale = 255.0 / self.style.dynamic_range_db
        grey = (WHITE_MATTER_GREY + (db - WHITE_MATTER_DB) * scale).astype(np.float32)
        if self._previous is not None and self.style.persistence > 0:
            grey = self.style.persistence * self._previous + (1.0 - self.style.persistence) * grey
        self._previous = grey
        return np.clip(grey, self.style.floor, 255.0).astype(np.uint8)


def _ar1(previous: np.ndarray | None, fresh: np.ndarray, rho: float) -> np.ndarray:
    """One AR(1) step of a unit-variance complex field: ``rho·previous + sqrt(1−rho²)·fresh``.

    The mixing keeps the field's variance, so the speckle statistics (Rayleigh envelope,
    grey mean and spread) do not depend on how strongly frames are correlated.
    """
    if previous is None:
        return fresh
    return np.float32(rho) * previous + np.float32(math.sqrt(max(0.0, 1.0 - rho * rho))) * fresh


def draw_overlays(
    geometry: SectorGeometry,
    style: MachineStyle,
    rng: np.random.Generator,
    *,
    orientation: str,
    depth_mm: float,
    side: str | None = None,
    layout: str = "standard",
) -> np.ndarray:
    """Burned-in text and marks outside the sector, as a grey frame (0 where none).

    Everything is kept at least a few pixels away from the fan, so the sector stays the
    largest connected non-black region. ``side`` ("left"/"right") labels a one-sided
    sagittal sweep; a sagittal sweep across both sides is labelled "RIGHT", its start.
    ``layout="real"`` adds what a scanner screen shows besides (:func:`_draw_real_panel`).
    """
    h, w = geometry.height, geometry.width
    canvas = np.zeros((h, w), dtype=np.uint8)
    fs = style.font_scale * h / 480.0
    th = 1
    grey = style.text_grey
    font = cv2.FONT_HERSHEY_SIMPLEX
    line = int(18 * h / 480.0)
    year = int(rng.integers(2019, 2026))
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hour, minute, sec = int(rng.integers(7, 20)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    operator = "".join(chr(ord("A") + int(rng.integers(0, 26))) for _ in range(2))
    cv2.putText(canvas, f"{year}/{month:02d}/{day:02d}", (6, line), font, fs, grey, th, cv2.LINE_AA)
    cv2.putText(
        canvas, f"{hour:02d}:{minute:02d}:{sec:02d}", (6, 2 * line), font, fs, grey, th, cv2.LINE_AA
    )
    cv2.putText(canvas, f"OP: {operator}", (6, 3 * line), font, fs, grey, th, cv2.LINE_AA)
    _x0, _y0, _x1, _y1 = geometry.bbox
    top_right_x = int(
        geometry.apex_x + geometry.r0_px * math.sin(math.radians(geometry.half_angle_deg))
    )
    cv2.putText(canvas, style.model, (top_right_x + 14, line), font, fs, grey, th, cv2.LINE_AA)
    preset = "Neo Head" if orientation == "coronal" else "Neo Head SAG"
    (tw, _), _ = cv2.getTextSize(style.probe, font, fs, th)
    cv2.putText(canvas, style.probe, (w - tw - 6, line), font, fs, grey, th, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize(preset, font, fs, th)
    cv2.putText(canvas, preset, (w - tw - 6, 2 * line), font, fs, grey, th, cv2.LINE_AA)
    info = f"{style.transducer_mhz:.1f}MHz D{depth_mm / 10:.1f}cm"
    (tw, _), _ = cv2.getTextSize(info, font, fs, th)
    cv2.putText(canvas, info, (w - tw - 6, 3 * line), font, fs, grey, th, cv2.LINE_AA)
    # Grey-scale bar at the left.
    bar_top, bar_bot = (int(f * h) for f in GREY_BAR[layout])
    ramp = np.linspace(255, 0, bar_bot - bar_top).astype(np.uint8)[:, None]
    canvas[bar_top:bar_bot, 8:18] = ramp
    _draw_depth_scale(canvas, geometry, depth_mm, fs, grey)
    if layout == "real":
        _draw_real_panel(canvas, geometry, style, fs=fs, line=line, depth_mm=depth_mm)
    if orientation == "sagittal":
        label = "RIGHT" if side is None else side.upper()
        cv2.putText(canvas, label, (8, h - 12), font, fs * 1.1, grey, th, cv2.LINE_AA)
    # Keep a black gap of at least 6 px around the fan.
    guard = cv2.dilate(geometry.mask.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    canvas[guard] = 0
    return canvas


def _draw_depth_scale(
    canvas: np.ndarray, geometry: SectorGeometry, depth_mm: float, fs: float, grey: int
) -> None:
    """Depth scale with ticks at the right (1 cm major with its number, 5 mm minor)."""
    h, w = canvas.shape
    font = cv2.FONT_HERSHEY_SIMPLEX
    sx = w - 22
    top_px = geometry.apex_y + geometry.r0_px
    for mm in range(0, int(depth_mm) + 1, 5):
        y = round(top_px + mm * geometry.px_per_mm)
        if y >= h:
            break
        major = mm % 10 == 0
        cv2.line(canvas, (sx, y), (sx + (8 if major else 4), y), int(grey * 0.9), 1)
        if major and mm > 0:
            cv2.putText(
                canvas, str(mm // 10), (sx + 10, y + 4), font, fs * 0.8, grey, 1, cv2.LINE_AA
            )


def _draw_real_panel(
    canvas: np.ndarray,
    geometry: SectorGeometry,
    style: MachineStyle,
    *,
    fs: float,
    line: int,
    depth_mm: float,
) -> None:
    """The rest of a scanner screen's info bars (``layout="real"``).

    Why: models trained on the phantom meet real frames whose margins are busy (a
    parameter block under the date, a framed grey bar with its end values, MI/TI, a focus
    mark beside the depth scale, the probe's orientation mark); a detector or the sector
    finder must learn to ignore them. Values follow the style; no random draws, so the
    sweep's random stream is the standard layout's.
    """
    h, w = canvas.shape
    font = cv2.FONT_HERSHEY_SIMPLEX
    grey = style.text_grey
    small = fs * 0.85
    params = (
        f"Frq {style.transducer_mhz:.1f}",
        f"Gn {50 + style.gain_db:.0f}",
        "E/A 2/2",
        f"D {depth_mm / 10:.1f}",
        f"DR {style.dynamic_range_db + 20:.0f}",
        f"FR {style.fps}",
        f"AO {100:d}%",
    )
    y = 4 * line + line // 2
    for text in params:
        cv2.putText(canvas, text, (6, y), font, small, grey, 1, cv2.LINE_AA)
        y += int(line * 0.85)
    # Framed grey-scale bar with its end values (drawn lower, under the parameter block).
    bar_top, bar_bot = (int(f * h) for f in GREY_BAR["real"])
    cv2.rectangle(canvas, (6, bar_top - 2), (19, bar_bot + 1), int(grey * 0.8), 1)
    cv2.putText(canvas, "255", (22, bar_top + 8), font, small * 0.8, grey, 1, cv2.LINE_AA)
    cv2.putText(canvas, "0", (22, bar_bot), font, small * 0.8, grey, 1, cv2.LINE_AA)
    # MI / TIs under the probe and preset lines at the top right.
    safety = f"MI {0.5 + style.transducer_mhz / 20:.1f}  TIs {0.2 + style.gain_db / 20:.1f}"
    (tw, _), _ = cv2.getTextSize(safety, font, small, 1)
    cv2.putText(canvas, safety, (w - tw - 6, 4 * line), font, small, grey, 1, cv2.LINE_AA)
    # Focus mark: a small triangle left of the depth scale at 40 % depth.
    fy = round(geometry.apex_y + geometry.r0_px + 0.4 * geometry.depth_px)
    sx = w - 22
    tri = np.array([[sx - 10, fy - 5], [sx - 10, fy + 5], [sx - 3, fy]], np.int32)
    cv2.fillPoly(canvas, [tri], grey)
    # The probe's orientation mark beside the fan's top-left corner.
    a = math.radians(geometry.half_angle_deg)
    cx = int(geometry.apex_x - geometry.r0_px * math.sin(a)) - 22
    cy = int(geometry.apex_y + geometry.r0_px * math.cos(a)) + 4
    cv2.circle(canvas, (max(cx, 4), max(cy, 4)), max(3, int(4 * h / 480)), grey, -1, cv2.LINE_AA)
