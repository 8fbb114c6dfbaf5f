"""Builders shared by the analysis tests: small studies in the database."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tests.trials.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
)
from trials.models import DatasetKind, Role, Study, StudyDesign

CONDITION_OF = {
    0: (["normal"], None),
    1: (["ivh"], 3),
}


def make_study(
    *, cases_per_dataset: int = 24, sweeps: int = 8, prefix: str = "A"
) -> tuple[Study, dict[str, Any]]:
    """An assisted-crossover study with two read datasets, a blind-sweep set and its people."""
    study = StudyFactory(design=StudyDesign.ASSISTED_CROSSOVER)
    users: dict[str, Any] = {}
    for name, role, tier in (
        ("coordinator", Role.COORDINATOR, ""),
        ("statistician", Role.STATISTICIAN, ""),
        ("junior1", Role.READER, "junior"),
        ("junior2", Role.READER, "junior"),
        ("junior3", Role.READER, "junior"),
        ("mid1", Role.READER, "mid_level"),
        ("mid2", Role.READER, "mid_level"),
        ("senior1", Role.READER, "senior"),
    ):
        user = UserFactory(username=f"{prefix}-{name}")
        MembershipFactory(study=study, user=user, role=role, tier=tier)
        users[name] = user
    conditions = [
        ["normal"],
        ["ependymal_cyst"],
        ["pvl"],
        ["hydrocephalus"],
        ["ventricular_dilation"],
    ]
    n = 0
    for name, kind, count in (
        ("Internal", DatasetKind.INTERNAL, cases_per_dataset),
        ("External", DatasetKind.EXTERNAL, cases_per_dataset),
        ("Sweeps", DatasetKind.BLIND_SWEEP, sweeps),
    ):
        dataset = DatasetFactory(study=study, name=name, kind=kind)
        for i in range(count):
            n += 1
            case = CaseFactory(
                dataset=dataset,
                study=study,
                code=f"{prefix}{n:04d}",
                probe_type=("linear", "microconvex")[i % 2],
                ga_weeks=25 + (i * 3) % 16,
            )
            if i % 4 == 0:
                GoldStandardFactory(case=case, conditions=["ivh"], ivh_grade=3 + (i // 4) % 2)
            elif i % 7 == 1:
                GoldStandardFactory(case=case, conditions=conditions[2 + i % 2])
            else:
                GoldStandardFactory(case=case, conditions=conditions[i % 2])
    return study, users


def vandyke_frame() -> pd.DataFrame:
    """The Van Dyke (1993) MRMC data as shipped with MRMCaov, in long format."""
    from pathlib import Path

    path = Path(__file__).parent / "data" / "VanDyke_long.csv"
    frame = pd.read_csv(path)
    return frame.rename(columns={"treatment": "modality"}).loc[
        :, ["reader", "modality", "case", "truth", "rating"]
    ]
