"""Probe trajectories through the fontanelle and per-frame rendering with ground truth.

Coronal sweeps tilt the imaging plane about the left–right axis (``position_deg`` is the
tilt, positive anterior); sagittal sweeps tilt it about the anterior–posterior axis
(positive towards the patient's left). Screen conventions: in coronal images the
patient's right is on the screen's left; in sagittal images anterior is on the left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from core.labels import ANATOMY_CLASSES, ORIENTATIONS, View
from inference.phantom.anatomy import VENTRICLE_LUMEN, BrainVolume, Tissue
from inference.phantom.geometry import RotatedBox, SectorGeometry, box_from_points
from inference.phantom.imaging import ImageFormer
from inference.phantom.lesion_masks import lesion_tissue_labels
from inference.phantom.styles import MachineStyle

#: Half-width (degrees) of the tilt window in which a frame counts as a standard view.
VIEW_TOLERANCE_DEG: dict[View, float] = {
    View.AHV: 5.0,
    View.TVV: 4.5,
    View.BV: 5.5,
    View.MSV: 4.0,
    View.RPSV: 5.0,
    View.LPSV: 5.0,
}
#: Smallest cut area (mm²) for a structure to count as visible.
MIN_AREA_MM2: dict[str, float] = dict.fromkeys(ANATOMY_CLASSES, 8.0) | {
    "cor_third_ventricle": 2.5,
    "cor_corpus_callosum": 6.0,
    "sag_corpus_callosum": 10.0,
}
SKULL_ATTENUATION_PER_MM = 1.1
#: The protocol's sagittal sweep starts on the right (stage 1's default side convention).
SAGITTAL_STARTS_RIGHT = True
#: The sides of one-sided sagittal sweeps (sign of their parasagittal tilt: left positive).
SIDES: tuple[str, ...] = ("left", "right")
#: How far past the midline a one-sided sweep reaches at most, and how far it stays
#: from the other side's parasagittal window (degrees).
PAST_MIDLINE_DEG = (5.0, 8.0)
OTHER_SIDE_MARGIN_DEG = 2.0


@dataclass(frozen=True)
class Box:
    """A truth box of one anatomy class in one frame."""

    class_index: int
    box: RotatedBox

    @property
    def class_name(self) -> str:
        """The class's name in ANATOMY_CLASSES."""
        return ANATOMY_CLASSES[self.class_index]

    def to_dict(self) -> dict[str, object]:
        """JSON form: class index and name, centre, size, angle (degrees)."""
        b = self.box
        return {
            "class_index": self.class_index,
            "class_name": self.class_name,
            "cx": round(b.cx, 2),
            "cy": round(b.cy, 2),
            "w": round(b.w, 2),
            "h": round(b.h, 2),
            "angle_deg": round(b.angle_deg, 2),
        }


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame."""

    index: int
    position_deg: float
    view: View | None
    closeness: float
    boxes: tuple[Box, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON form of the frame's truth."""
        return {
            "index": self.index,
            "position_deg": round(self.position_deg, 3),
            "view": self.view.value if self.view else None,
            "closeness": round(self.closeness, 4),
            "boxes": [b.to_dict() for b in self.boxes],
        }


@dataclass
class Sweep:
    """One rendered sweep video and its truth."""

    orientation: str
    frames: np.ndarray  # uint8, (T, H, W), grey
    fps: int
    geometry: SectorGeometry
    truth: list[FrameTruth]
    direction: str
    ideal_frames: dict[View, int]
    expected_ranges: dict[View, tuple[int, int]] = field(default_factory=dict)
    side: str | None = None  # "left" / "right": a one-sided sagittal sweep
    #: Opt-in (``SweepOptions.lesion_masks``): T × n_depth × n_lines polar tissue labels of
    #: the lesion tissues (0 elsewhere), see :mod:`inference.phantom.lesion_masks`.
    lesion_tissues: np.ndarray | None = None

    @property
    def name(self) -> str:
        """What the sweep is declared as: ``coronal``, ``sagittal``, ``sagittal_left`` ..."""
        return self.orientation if self.side is None else f"{self.orientation}_{self.side}"

    def frame_views(self) -> list[View | None]:
        """Truth view of every frame."""
        return [t.view for t in self.truth]


@dataclass(frozen=True)
class SweepOptions:
    """How the hand moves the probe."""

    n_frames: int
    blind: bool = False
    #: Opt-in AR(1) coefficient of the speckle field between frames (see ImageFormer).
    speckle_correlation: float | None = None
    #: ``left`` / ``right``: a one-sided sagittal sweep (see :func:`one_sided_range`).
    side: str | None = None
    #: Keep each frame's lesion tissue labels (:attr:`Sweep.lesion_tissues`);
    #: draws no random number.
    lesion_masks: bool = False

    def __post_init__(self) -> None:
        if self.side not in (None, *SIDES):
            raise ValueError(f"side must be one of {SIDES} or None, got {self.side!r}")


def _smooth_series(rng: np.random.Generator, n: int, scale: float, sigma: float) -> np.ndarray:
    """A smooth zero-mean random series of standard deviation about ``scale``."""
    pad = int(3 * sigma) + 1
    raw = ndimage.gaussian_filter1d(rng.standard_normal(n + 2 * pad), sigma, mode="reflect")
    # Scale by the filter's theoretical gain, not the sample std (short series would blow up).
    gain = 1.0 / math.sqrt(2.0 * math.sqrt(math.pi) * max(sigma, 0.5))
    return raw[pad : pad + n] / gain * scale


def _rotate(v: np.ndarray, axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rodrigues rotation of ``v`` about unit ``axis``."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1 - c)


def _plane_basis(orientation: str, tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(lateral, depth) unit vectors of an un-jittered plane at a tilt."""
    t = math.radians(tilt_deg)
    if orientation == "coronal":
        return np.array([1.0, 0.0, 0.0]), np.array([0.0, math.sin(t), math.cos(t)])
    return np.array([0.0, -1.0, 0.0]), np.array([math.sin(t), 0.0, math.cos(t)])


def view_targets(volume: BrainVolume, orientation: str) -> dict[View, float]:
    """Ideal tilt of each standard view of this orientation."""
    a = volume.angles
    if orientation == "coronal":
        return {View.AHV: a.ahv, View.TVV: a.tvv, View.BV: a.bv}
    return {View.RPSV: -a.psv, View.MSV: 0.0, View.LPSV: a.psv}


def plan_trajectory(
    rng: np.random.Generator, volume: BrainVolume, orientation: str, options: SweepOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Tilt, in-plane rotation, yaw and translation of every frame; the sweep direction.

    Returns ``(tilt_deg, roll_deg, yaw_deg, shift_mm (T×2), direction)``; ``tilt`` also
    comes back without jitter as the planned path in the truth's expected ranges.
    """
    n = options.n_frames
    if options.side is not None:
        lo, hi = one_sided_range(rng, volume, options.side)
    else:
        targets = view_targets(volume, orientation)
        lo_t, hi_t = min(targets.values()), max(targets.values())
        lo = lo_t - rng.uniform(10.0, 18.0)
        hi = hi_t + rng.uniform(10.0, 18.0)
    if options.blind:
        # Partial coverage: a random sub-range, often missing a view.
        span = hi - lo
        cover = rng.uniform(0.45, 1.0) * span
        start = rng.uniform(lo - 0.15 * span, hi + 0.15 * span - cover)
        lo, hi = start, start + cover
    forward = bool(rng.random() < 0.5)
    if orientation == "coronal":
        direction = "posterior_to_anterior" if forward else "anterior_to_posterior"
    elif options.side is not None:
        # A one-sided sweep's side is declared (file, burned-in label), so it may run
        # either way: medial to lateral or back.
        direction = "right_to_left" if forward else "left_to_right"
    else:
        # Sagittal sweeps follow the acquisition protocol: they start on the right, which the
        # burned-in "RIGHT" label marks. The two hemispheres are mirror images, so a sweep of
        # random direction would leave its sides unknowable from the pixels, for stage 1 and
        # for a junior alike (the draw above is kept so every other random stream is unchanged).
        forward = SAGITTAL_STARTS_RIGHT
        direction = "right_to_left" if forward else "left_to_right"
    speed = np.exp(_smooth_series(rng, n, 0.75 if options.blind else 0.4, n / 12))
    pos = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    pos /= pos[-1] if pos[-1] > 0 else 1.0
    tilt = lo + (hi - lo) * pos if forward else hi - (hi - lo) * pos
    shake = 3.0 if options.blind else 1.0
    roll = _smooth_series(rng, n, 1.5 * shake, 8) + rng.normal(0, 0.12 * shake, n)
    yaw = _smooth_series(rng, n, 1.2 * shake, 10) + rng.normal(0, 0.1 * shake, n)
    tilt = tilt + _smooth_series(rng, n, 0.4 * shake, 4) + rng.normal(0, 0.05 * shake, n)
    shift = np.stack([_smooth_series(rng, n, 0.6 * shake, 12) for _ in range(2)], axis=1)
    return tilt, roll, yaw, shift, direction


def one_sided_range(
    rng: np.random.Generator, volume: BrainVolume, side: str
) -> tuple[float, float]:
    """Tilt range of a one-sided sagittal sweep: centred on its side's parasagittal plane.

    As a sonographer records a left or right sweep: from a few degrees past the midline
    (so the midsagittal view is crossed) out beyond the parasagittal view by as much, never
    reaching the other side's parasagittal window.
    """
    psv = volume.angles.psv
    limit = psv - VIEW_TOLERANCE_DEG[View.RPSV] - OTHER_SIDE_MARGIN_DEG
    past = min(float(rng.uniform(*PAST_MIDLINE_DEG)), limit)
    past = max(past, VIEW_TOLERANCE_DEG[View.MSV] + 0.5)
    centre = psv if side == "left" else -psv
    half = psv + past
    return centre - half, centre + half


def _frame_points(
    geometry: SectorGeometry,
    origin: np.ndarray,
    lateral: np.ndarray,
    depth: np.ndarray,
    r0_mm: float,
) -> np.ndarray:
    """3-D millimetre points (n_depth × n_lines × 3) of the polar samples of one frame."""
    rs = r0_mm + geometry.depths_mm
    th = geometry.thetas
    dirs = np.sin(th)[:, None] * lateral[None, :] + np.cos(th)[:, None] * depth[None, :]
    apex = origin - r0_mm * depth
    return apex[None, None, :] + rs[:, None, None] * dirs[None, :, :]


def _distortion(
    rng: np.random.Generator, amplitude_mm: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """A few random plane waves that bend the anatomy (blind sweeps)."""
    waves = []
    for _ in range(3):
        k = rng.normal(0, 1, 3)
        k *= (2 * math.pi / rng.uniform(40.0, 90.0)) / np.linalg.norm(k)
        amp = rng.normal(0, 1, 3)
        amp *= amplitude_mm / np.linalg.norm(amp)
        waves.append((k, amp, float(rng.uniform(0, 2 * math.pi))))
    return waves


_LUMEN_LUT = np.zeros(256, dtype=bool)
_LUMEN_LUT[[int(t) for t in VENTRICLE_LUMEN]] = True


def _tan_deg(angle: float) -> float:
    return math.tan(math.radians(angle))


class _ClassMasks:
    """Which polar cells of a frame belong to which detector class."""

    def __init__(self, volume: BrainVolume, orientation: str) -> None:
        self.volume = volume
        self.orientation = orientation
        a = volume.angles
        self.horn_split = a.horn_split
        self.trigone_split = a.trigone_split
        self.tvv = a.tvv

    def boxes(
        self,
        labels: np.ndarray,
        points: np.ndarray,
        geometry: SectorGeometry,
        cell_area: np.ndarray,
    ) -> tuple[Box, ...]:
        """Rotated boxes of the visible structures."""
        px, py = geometry.polar_pixels
        z = np.maximum(points[..., 2], 1e-3)
        # tan of the tilt angles: monotonic, so compare with tan of the split angles.
        tphi = points[..., 1] / z
        tpsi = np.abs(points[..., 0] / z)
        left = points[..., 0] >= 0
        lumen = _LUMEN_LUT[labels]
        thal = labels == Tissue.THALAMUS
        cc = labels == Tissue.CORPUS_CALLOSUM
        t = _tan_deg
        masks: list[tuple[str, np.ndarray, bool]] = []  # (class, mask, split by side)
        if self.orientation == "coronal":
            masks += [
                ("cor_corpus_callosum", cc, False),
                ("cor_anterior_horn", lumen & (tphi >= t(self.horn_split)), True),
                ("cor_lateral_ventricle", lumen & (tphi < t(self.horn_split)), True),
                (
                    "cor_third_ventricle",
                    (labels == Tissue.THIRD_VENTRICLE)
                    & (tphi >= t(self.tvv - 7.0))
                    & (tphi <= t(self.tvv + 7.0)),
                    False,
                ),
                ("cor_thalamus", thal, True),
            ]
        else:
            cereb = (labels == Tissue.CEREBELLUM) | (labels == Tissue.VERMIS)
            masks += [
                ("sag_corpus_callosum", cc & (tpsi <= t(7.0)), False),
                ("sag_trigone", lumen & (tphi < t(self.trigone_split)), True),
                ("sag_lateral_ventricle", lumen & (tphi >= t(self.trigone_split)), True),
                ("sag_cerebellum", cereb & (tpsi <= t(9.0)), False),
                ("sag_thalamus", thal, True),
            ]
        out: list[Box] = []
        for name, mask, by_side in masks:
            parts = [mask & left, mask & ~left] if by_side else [mask]
            for part in parts:
                if not part.any():
                    continue
                area = float(cell_area[part].sum())
                if area < MIN_AREA_MM2[name]:
                    continue
                pts = np.stack([px[part], py[part]], axis=1)
                out.append(Box(ANATOMY_CLASSES.index(name), box_from_points(pts, pad=1.0)))
        out.sort(key=lambda b: (b.class_index, b.box.cx))
        return tuple(out)


def _view_of(
    orientation: str, lateral: np.ndarray, depth: np.ndarray, targets: dict[View, float]
) -> tuple[View | None, float]:
    """The standard view a plane shows, and how close it is to that view's ideal plane."""
    normal = np.cross(lateral, depth)
    best: tuple[View | None, float] = (None, 0.0)
    for view, tilt in targets.items():
        ideal_lat, ideal_depth = _plane_basis(orientation, tilt)
        ideal_normal = np.cross(ideal_lat, ideal_depth)
        cos = abs(float(np.dot(normal, ideal_normal)))
        angle = math.degrees(math.acos(min(1.0, cos)))
        closeness = 1.0 - angle / VIEW_TOLERANCE_DEG[view]
        if closeness > best[1]:
            best = (view, closeness)
    return best


def render_sweep(
    rng: np.random.Generator,
    volume: BrainVolume,
    style: MachineStyle,
    geometry: SectorGeometry,
    orientation: str,
    options: SweepOptions,
    overlay: np.ndarray | None,
) -> Sweep:
    """Render one sweep: frames (uint8 grey) and per-frame truth."""
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    if options.n_frames < 2:
        raise ValueError(f"a sweep needs at least 2 frames, got {options.n_frames}")
    tilt, roll, yaw, shift, direction = plan_trajectory(rng, volume, orientation, options)
    targets = view_targets(volume, orientation)
    former = ImageFormer(
        geometry,
        style,
        rng,
        blur=1.5 if options.blind else 1.0,
        speckle_correlation=options.speckle_correlation,
    )
    masks = _ClassMasks(volume, orientation)
    waves = _distortion(rng, float(rng.uniform(1.5, 3.5))) if options.blind else []
    dr = geometry.depth_mm / (geometry.n_depth - 1)
    dth = 2 * math.radians(geometry.half_angle_deg) / (geometry.n_lines - 1)
    cell_area = np.broadcast_to(
        (dr * (style.r0_mm + geometry.depths_mm) * dth)[:, None],
        (geometry.n_depth, geometry.n_lines),
    )
    frames = np.empty((options.n_frames, geometry.height, geometry.width), dtype=np.uint8)
    truth: list[FrameTruth] = []
    lesion_tissues = (
        np.zeros((options.n_frames, geometry.n_depth, geometry.n_lines), dtype=np.uint8)
        if options.lesion_masks
        else None
    )
    previous: np.ndarray | None = None
    for i in range(options.n_frames):
        lateral, depth = _plane_basis(orientation, float(tilt[i]))
        normal = np.cross(lateral, depth)
        lateral = _rotate(lateral, normal, math.radians(roll[i]))
        depth = _rotate(depth, normal, math.radians(roll[i]))
        lateral = _rotate(lateral, depth, math.radians(yaw[i]))
        origin = np.array([shift[i, 0], shift[i, 1], 0.0])
        points = _frame_points(geometry, origin, lateral, depth, style.r0_mm)
        sample_points = points
        if waves:
            sample_points = points.copy()
            for k, amp, ph in waves:
                sample_points += np.sin(points @ k + ph)[..., None] * amp
        echo, labels = volume.sample(sample_points)
        if lesion_tissues is not None:
            lesion_tissues[i] = lesion_tissue_labels(labels)
        bone = np.cumsum(labels == Tissue.SKULL, axis=0) * dr
        reflect = (echo * np.exp(-SKULL_ATTENUATION_PER_MM * bone)).astype(np.float32)
        moved = (
            0.0
            if previous is None
            else float(np.linalg.norm(points[::16, ::16] - previous[::16, ::16], axis=-1).mean())
        )
        previous = points
        polar = former.form(reflect, moved)
        frame = geometry.scan_convert(polar)
        if overlay is not None:
            np.maximum(frame, overlay, out=frame)
        frames[i] = frame
        view, closeness = _view_of(orientation, lateral, depth, targets)
        boxes = masks.boxes(labels, points, geometry, cell_area)
        position = float(
            math.degrees(
                math.atan2(depth[1], depth[2])
                if orientation == "coronal"
                else math.atan2(depth[0], depth[2])
            )
        )
        truth.append(FrameTruth(i, position, view, max(0.0, closeness), boxes))
    ideal: dict[View, int] = {}
    for view in targets:
        scores = [t.closeness if t.view == view else -1.0 for t in truth]
        j = int(np.argmax(scores))
        if scores[j] > 0:
            ideal[view] = j
    expected: dict[View, tuple[int, int]] = {}
    for view, target in targets.items():
        inside = np.nonzero(np.abs(tilt - target) <= VIEW_TOLERANCE_DEG[view] + 2.0)[0]
        if len(inside):
            expected[view] = (int(inside.min()), int(inside.max()))
    return Sweep(
        orientation,
        frames,
        style.fps,
        geometry,
        truth,
        direction,
        ideal,
        expected,
        side=options.side,
        lesion_tissues=lesion_tissues,
    )
