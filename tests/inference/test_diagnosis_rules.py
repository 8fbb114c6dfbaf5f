"""The NCLS ensemble rule: a truth table over its branches."""

from __future__ import annotations

import pytest

from core.labels import Condition as C
from inference.ncls.diagnosis.rules import (
    CASE_THRESHOLD,
    DecidingRule,
    decide,
    flags_severe,
    image_label_set,
    is_abnormal,
)

NORMAL = frozenset({C.NORMAL})
CYST = frozenset({C.EPENDYMAL_CYST})
IVH = frozenset({C.IVH})
IVH_VD = frozenset({C.IVH, C.VENTRICULAR_DILATION})
PVL = frozenset({C.PVL})
HYDRO = frozenset({C.HYDROCEPHALUS})


@pytest.mark.parametrize(
    ("probability", "images", "severe", "rule"),
    [
        (0.9, [NORMAL, NORMAL], True, DecidingRule.CASE_HEAD_SEVERE),
        (CASE_THRESHOLD, [NORMAL], True, DecidingRule.CASE_HEAD_SEVERE),
        (0.19, [NORMAL, NORMAL, NORMAL], False, DecidingRule.CASE_HEAD_NON_SEVERE),
        (0.05, [PVL, NORMAL], False, DecidingRule.IMAGE_FLAG_TOO_FEW_ABNORMAL),
        (0.05, [PVL, CYST], True, DecidingRule.IMAGE_HEAD_OVERRIDE),
        (0.05, [HYDRO, HYDRO, NORMAL], True, DecidingRule.IMAGE_HEAD_OVERRIDE),
        (0.05, [IVH_VD, IVH], True, DecidingRule.IMAGE_HEAD_OVERRIDE),
        # IVH without dilation does not flag, however many images show it.
        (0.05, [IVH, IVH, IVH], False, DecidingRule.CASE_HEAD_NON_SEVERE),
        (0.05, [CYST, CYST], False, DecidingRule.CASE_HEAD_NON_SEVERE),
        (0.0, [], False, DecidingRule.CASE_HEAD_NON_SEVERE),
    ],
)
def test_rule_truth_table(
    probability: float, images: list, severe: bool, rule: DecidingRule
) -> None:
    decision = decide(probability, images)
    assert (decision.severe, decision.rule) == (severe, rule)


def test_flags_and_abnormality() -> None:
    assert flags_severe(PVL) and flags_severe(HYDRO) and flags_severe(IVH_VD)
    assert not flags_severe(IVH) and not flags_severe(frozenset({C.VENTRICULAR_DILATION}))
    assert not is_abnormal(NORMAL)
    assert is_abnormal(frozenset({C.NORMAL, C.IVH})) and is_abnormal(CYST)


def test_image_label_set_falls_back_to_most_likely() -> None:
    assert image_label_set([0.1, 0.3, 0.2, 0.0, 0.0, 0.0]) == frozenset({C.IVH})
    assert image_label_set({"normal": 0.2, "pvl": 0.7, "ivh": 0.6}) == frozenset({C.PVL, C.IVH})


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_rule_rejects_bad_probability(bad: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        decide(bad, [NORMAL])
