"""The clinical vocabulary shared by the phantom, the NCLS pipeline and the platform.

Pure Python: the severe rule lives here once, so the gold standard, the phantom's truth
and the models' training labels can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Condition(StrEnum):
    """Gold-standard conditions of a case (DESIGN.md)."""

    NORMAL = "normal"
    IVH = "ivh"
    EPENDYMAL_CYST = "ependymal_cyst"
    VENTRICULAR_DILATION = "ventricular_dilation"
    HYDROCEPHALUS = "hydrocephalus"
    PVL = "pvl"


#: Order of the image head's multi-label outputs.
IMAGE_LABELS: tuple[Condition, ...] = tuple(Condition)


class View(StrEnum):
    """The six standard views: coronal AHV, TVV, BV; sagittal MSV, RPSV, LPSV."""

    AHV = "AHV"  # COR1: anterior horn view
    TVV = "TVV"  # COR2: third ventricle view
    BV = "BV"  # COR3: body (of the lateral ventricle) view
    MSV = "MSV"  # SAG1: midsagittal view
    RPSV = "RPSV"  # SAG2, right parasagittal
    LPSV = "LPSV"  # SAG2, left parasagittal


#: The two sweep orientations.
ORIENTATIONS: tuple[str, ...] = ("coronal", "sagittal")
#: What a sweep may be declared as at upload or on the command line: a scanner protocol
#: usually gives one coronal sweep and one sagittal sweep per side, each covering the
#: midline and that side's parasagittal plane; "sagittal" is a sweep across both sides.
DECLARED_ORIENTATIONS: tuple[str, ...] = ("coronal", "sagittal", "sagittal_left", "sagittal_right")
CORONAL_VIEWS: tuple[View, ...] = (View.AHV, View.TVV, View.BV)
SAGITTAL_VIEWS: tuple[View, ...] = (View.MSV, View.RPSV, View.LPSV)

#: The parasagittal view a one-sided sagittal sweep shows.
SIDE_VIEWS: dict[str, View] = {"sagittal_left": View.LPSV, "sagittal_right": View.RPSV}


def base_orientation(declared: str) -> str:
    """``coronal`` or ``sagittal`` for any of :data:`DECLARED_ORIENTATIONS`."""
    if declared not in DECLARED_ORIENTATIONS:
        raise ValueError(f"orientation must be one of {DECLARED_ORIENTATIONS}, got {declared!r}")
    return "coronal" if declared == "coronal" else "sagittal"


#: The ten anatomy classes of the detector, in class-index order.
ANATOMY_CLASSES: tuple[str, ...] = (
    "cor_corpus_callosum",
    "cor_anterior_horn",
    "cor_third_ventricle",
    "cor_lateral_ventricle",
    "cor_thalamus",
    "sag_corpus_callosum",
    "sag_trigone",
    "sag_lateral_ventricle",
    "sag_cerebellum",
    "sag_thalamus",
)

#: Header line of a DOTA label file giving the frame's standard-plane quality in [0, 1]
#: (1: the view's ideal plane). Training uses it to scale the frame's score targets, so
#: the detector's confidence peaks at the ideal plane; files without it count as 1.
PLANE_QUALITY_HEADER = "plane-quality:"

#: The structures that make each standard view (DESIGN.md's per-view score weights): what a
#: sonographer annotates on that view's frames, and what stage 1's view rules count.
VIEW_STRUCTURES: dict[View, frozenset[str]] = {
    View.AHV: frozenset({"cor_corpus_callosum", "cor_anterior_horn", "cor_thalamus"}),
    View.TVV: frozenset(
        {"cor_corpus_callosum", "cor_anterior_horn", "cor_thalamus", "cor_third_ventricle"}
    ),
    View.BV: frozenset({"cor_lateral_ventricle"}),
    View.MSV: frozenset({"sag_corpus_callosum", "sag_trigone", "sag_cerebellum"}),
    View.RPSV: frozenset({"sag_lateral_ventricle", "sag_thalamus"}),
    View.LPSV: frozenset({"sag_lateral_ventricle", "sag_thalamus"}),
}


def parse_conditions(values: Iterable[str]) -> frozenset[Condition]:
    """Validate condition names; raise ``ValueError`` naming an unknown one."""
    result = set()
    for raw in values:
        name = raw.strip().lower()
        if not name:
            continue
        try:
            result.add(Condition(name))
        except ValueError:
            allowed = ", ".join(c.value for c in Condition)
            raise ValueError(f"unknown condition {raw!r} (allowed: {allowed})") from None
    if Condition.NORMAL in result and len(result) > 1:
        raise ValueError("'normal' cannot be combined with another condition")
    return frozenset(result)


def is_severe(conditions: Iterable[str], ivh_grade: int | None) -> bool:
    """DESIGN.md's rule: severe = IVH Papile grade III–IV, PVL or hydrocephalus."""
    found = parse_conditions(conditions)
    if ivh_grade is not None and not 1 <= ivh_grade <= 4:
        raise ValueError(f"IVH grade must be 1–4 (Papile), got {ivh_grade}")
    if Condition.IVH in found and ivh_grade is None:
        raise ValueError("an IVH case needs its Papile grade")
    if Condition.IVH not in found and ivh_grade is not None:
        raise ValueError("an IVH grade was given but IVH is not among the conditions")
    return (
        Condition.PVL in found
        or Condition.HYDROCEPHALUS in found
        or (Condition.IVH in found and ivh_grade is not None and ivh_grade >= 3)
    )


#: The manifest's column of the sweep of each declared orientation (paths relative to the
#: manifest file): one coronal sweep and either ``video_sagittal`` (a sweep across both sides)
#: or ``video_sagittal_left`` and ``video_sagittal_right``, never both forms.
VIDEO_COLUMNS: dict[str, str] = {f"video_{o}": o for o in DECLARED_ORIENTATIONS}
#: The columns of one-sided sagittal sweeps
#: (the phantom writes them with ``--sagittal-sweeps split``).
SPLIT_SAGITTAL_VIDEO_COLUMNS: tuple[str, ...] = tuple(f"video_{o}" for o in SIDE_VIEWS)

#: Columns of the case manifest CSV: what the trials case import accepts, what training and
#: evaluation read; the phantom writes them all but those it does not model (its writer says).
MANIFEST_COLUMNS: tuple[str, ...] = (
    "code",
    "dataset",  # dataset name within the study
    "dataset_kind",  # internal | external | blind_sweep
    "site",
    "ga_weeks",
    "ga_days",
    "birth_weight_g",
    "sex",  # F | M | U
    "age_at_exam_days",
    "apgar_1min",
    "apgar_5min",
    "probe_type",  # e.g. microconvex, linear, phased
    "manufacturer",
    "model",
    "transducer_mhz",
    "conditions",  # ';'-separated Condition values
    "ivh_grade",  # 1–4 or empty
    "volpe_grade",  # I | II | III | III+PVI or empty (IVH cases only)
    "excluded",  # 0 | 1
    "exclusion_reason",
    *VIDEO_COLUMNS,  # video_coronal, video_sagittal, video_sagittal_left, video_sagittal_right
    *(f"view_{v.value}" for v in View),  # standard-view image paths, may be empty
)
