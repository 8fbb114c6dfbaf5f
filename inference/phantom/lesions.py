"""Case labels and the lesions that make them visible.

A case draws its gold standard first (conditions, Papile grade), then a :class:`LesionPlan`
that says how the brain must be altered: ventricle size per side, germinal-matrix and
intraventricular blood, periventricular haemorrhagic infarction, PVL cysts, ependymal
cysts. The severe label always comes from :func:`core.labels.is_severe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.labels import Condition, is_severe

#: Relative frequencies of the severe and non-severe case types.
SEVERE_TYPES: dict[str, float] = {"ivh3": 0.3, "ivh4": 0.2, "pvl": 0.25, "hydrocephalus": 0.25}
NON_SEVERE_TYPES: dict[str, float] = {
    "normal": 0.55,
    "ivh1": 0.12,
    "ivh2": 0.10,
    "ependymal_cyst": 0.10,
    "ventricular_dilation": 0.13,
}


@dataclass(frozen=True)
class CaseLabels:
    """Gold standard of a case."""

    conditions: tuple[Condition, ...]
    ivh_grade: int | None

    @property
    def severe(self) -> bool:
        """DESIGN.md's severe rule, from the shared vocabulary."""
        return is_severe([c.value for c in self.conditions], self.ivh_grade)


@dataclass(frozen=True)
class LesionPlan:
    """How a case's brain departs from normal. Sides: 0 = right, 1 = left."""

    lv_dilation: tuple[float, float] = (1.0, 1.0)
    round_horns: bool = False
    v3_dilation: float = 1.0
    gmh_sides: tuple[int, ...] = ()
    gmh_radius_mm: float = 0.0
    clot_fill: tuple[float, float] = (0.0, 0.0)  # fraction of the ventricle filled with clot
    pvhi_side: int | None = None
    pvl_cysts: int = 0
    ependymal_cysts: tuple[int, ...] = ()  # sides with a cyst, one entry per cyst
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, object]:
        """Plain-data description for the truth file."""
        return {
            "lv_dilation": [round(v, 3) for v in self.lv_dilation],
            "round_horns": self.round_horns,
            "v3_dilation": round(self.v3_dilation, 3),
            "gmh_sides": list(self.gmh_sides),
            "gmh_radius_mm": round(self.gmh_radius_mm, 2),
            "clot_fill": [round(v, 3) for v in self.clot_fill],
            "pvhi_side": self.pvhi_side,
            "pvl_cysts": self.pvl_cysts,
            "ependymal_cysts": list(self.ependymal_cysts),
            "notes": list(self.notes),
        }


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sample_case_type(rng: np.random.Generator, severe_prevalence: float) -> str:
    """Draw a case type; severe types with probability ``severe_prevalence``."""
    if not 0.0 <= severe_prevalence <= 1.0:
        raise ValueError(f"severe_prevalence must be in [0, 1], got {severe_prevalence}")
    if rng.random() < severe_prevalence:
        return _choice(rng, SEVERE_TYPES)
    return _choice(rng, NON_SEVERE_TYPES)


CASE_TYPES: tuple[str, ...] = (*SEVERE_TYPES, *NON_SEVERE_TYPES)


def labels_for(case_type: str) -> CaseLabels:
    """Gold standard of a case type."""
    table: dict[str, CaseLabels] = {
        "normal": CaseLabels((Condition.NORMAL,), None),
        "ivh1": CaseLabels((Condition.IVH,), 1),
        "ivh2": CaseLabels((Condition.IVH,), 2),
        "ivh3": CaseLabels((Condition.IVH, Condition.VENTRICULAR_DILATION), 3),
        "ivh4": CaseLabels((Condition.IVH, Condition.VENTRICULAR_DILATION), 4),
        "pvl": CaseLabels((Condition.PVL,), None),
        "hydrocephalus": CaseLabels((Condition.HYDROCEPHALUS,), None),
        "ependymal_cyst": CaseLabels((Condition.EPENDYMAL_CYST,), None),
        "ventricular_dilation": CaseLabels((Condition.VENTRICULAR_DILATION,), None),
    }
    try:
        return table[case_type]
    except KeyError:
        raise ValueError(f"unknown case type {case_type!r} (allowed: {', '.join(table)})") from None


def plan_lesions(rng: np.random.Generator, case_type: str) -> LesionPlan:
    """Draw the anatomical changes that make a case type visible."""
    labels_for(case_type)  # validates the name
    jitter = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    if case_type == "normal":
        return LesionPlan(lv_dilation=(jitter(0.85, 1.15), jitter(0.85, 1.15)))
    if case_type == "ventricular_dilation":
        base = jitter(1.7, 2.2)
        return LesionPlan(
            lv_dilation=(base * jitter(0.9, 1.1), base * jitter(0.9, 1.1)),
            v3_dilation=jitter(1.2, 1.8),
        )
    if case_type == "hydrocephalus":
        base = jitter(3.4, 4.4)
        return LesionPlan(
            lv_dilation=(base * jitter(0.92, 1.08), base * jitter(0.92, 1.08)),
            round_horns=True,
            v3_dilation=jitter(3.5, 5.0),
        )
    if case_type == "ependymal_cyst":
        n = int(rng.integers(1, 4))
        return LesionPlan(
            lv_dilation=(jitter(0.9, 1.15), jitter(0.9, 1.15)),
            ependymal_cysts=tuple(int(rng.integers(0, 2)) for _ in range(n)),
        )
    if case_type == "pvl":
        return LesionPlan(
            lv_dilation=(jitter(1.0, 1.4), jitter(1.0, 1.4)), pvl_cysts=int(rng.integers(16, 32))
        )
    # IVH grades
    sides: tuple[int, ...] = (0, 1) if rng.random() < 0.5 else (int(rng.integers(0, 2)),)
    if case_type == "ivh1":
        return LesionPlan(
            lv_dilation=(jitter(0.9, 1.15), jitter(0.9, 1.15)),
            gmh_sides=sides,
            gmh_radius_mm=jitter(2.5, 4.0),
        )
    fill = [0.0, 0.0]
    if case_type == "ivh2":
        for s in sides:
            fill[s] = jitter(0.2, 0.45)
        return LesionPlan(
            lv_dilation=(jitter(0.95, 1.2), jitter(0.95, 1.2)),
            gmh_sides=sides,
            gmh_radius_mm=jitter(3.0, 4.5),
            clot_fill=(fill[0], fill[1]),
        )
    # grade III and IV: clot fills more than half of at least one dilated ventricle
    dil = [jitter(1.1, 1.4), jitter(1.1, 1.4)]
    for s in sides:
        fill[s] = jitter(0.55, 0.9)
        dil[s] = jitter(2.4, 3.2)
    pvhi = sides[int(rng.integers(0, len(sides)))] if case_type == "ivh4" else None
    return LesionPlan(
        lv_dilation=(dil[0], dil[1]),
        v3_dilation=jitter(1.5, 2.5),
        gmh_sides=sides,
        gmh_radius_mm=jitter(3.5, 5.0),
        clot_fill=(fill[0], fill[1]),
        pvhi_side=pvhi,
    )
