"""The NCLS ensemble rule (DESIGN.md, stage 2): case head first, image head as a safety net.

- The case head's severe probability decides when it reaches :data:`CASE_THRESHOLD` (0.2).
- The image head flags a case severe when one image shows PVL or hydrocephalus, or IVH
  together with ventricular dilation (ventriculomegaly).
- When the case head says non-severe but the image head flags severe, the case is severe
  if at least :data:`MIN_ABNORMAL_IMAGES` (2) images are abnormal, i.e. anything but
  exclusively normal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.labels import IMAGE_LABELS, Condition

#: The case head's severe probability at or above which a case is severe.
CASE_THRESHOLD = 0.2
#: An image label counts as present at or above this probability.
IMAGE_THRESHOLD = 0.5
#: Abnormal images needed for the image head to overrule a non-severe case head.
MIN_ABNORMAL_IMAGES = 2


class DecidingRule(StrEnum):
    """Which branch of the ensemble rule produced the decision."""

    CASE_HEAD_SEVERE = "case_head_severe"
    IMAGE_HEAD_OVERRIDE = "image_head_override"
    IMAGE_FLAG_TOO_FEW_ABNORMAL = "image_flag_too_few_abnormal"
    CASE_HEAD_NON_SEVERE = "case_head_non_severe"


@dataclass(frozen=True)
class RuleDecision:
    """The ensemble rule's decision and why."""

    severe: bool
    rule: DecidingRule
    image_flag: bool
    abnormal_images: int


def image_label_set(
    probabilities: Mapping[str, float] | Sequence[float], *, threshold: float = IMAGE_THRESHOLD
) -> frozenset[Condition]:
    """Labels predicted for one image: those at or above ``threshold``, else the most likely one.

    ``probabilities`` is either a mapping from condition name or a sequence in
    :data:`IMAGE_LABELS` order.
    """
    if isinstance(probabilities, Mapping):
        scores = {Condition(str(name)): float(p) for name, p in probabilities.items()}
    else:
        if len(probabilities) != len(IMAGE_LABELS):
            raise ValueError(
                f"expected {len(IMAGE_LABELS)} image-label probabilities, got {len(probabilities)}"
            )
        scores = {label: float(p) for label, p in zip(IMAGE_LABELS, probabilities, strict=True)}
    for label, p in scores.items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability of {label} must lie in [0, 1], got {p}")
    chosen = frozenset(label for label, p in scores.items() if p >= threshold)
    return chosen or frozenset({max(scores, key=lambda label: scores[label])})


def is_abnormal(labels: frozenset[Condition]) -> bool:
    """An image is abnormal unless its labels are exclusively 'normal'."""
    return labels != frozenset({Condition.NORMAL})


def flags_severe(labels: frozenset[Condition]) -> bool:
    """The image head's severe flag for one image: PVL, hydrocephalus, or IVH with dilation."""
    return (
        Condition.PVL in labels
        or Condition.HYDROCEPHALUS in labels
        or (Condition.IVH in labels and Condition.VENTRICULAR_DILATION in labels)
    )


def decide(
    severe_probability: float,
    image_labels: Sequence[frozenset[Condition]],
    *,
    threshold: float = CASE_THRESHOLD,
) -> RuleDecision:
    """Apply the ensemble rule to a case's severe probability and its images' label sets."""
    if not 0.0 <= severe_probability <= 1.0:
        raise ValueError(f"severe probability must lie in [0, 1], got {severe_probability}")
    image_flag = any(flags_severe(labels) for labels in image_labels)
    abnormal = sum(is_abnormal(labels) for labels in image_labels)
    if severe_probability >= threshold:
        return RuleDecision(True, DecidingRule.CASE_HEAD_SEVERE, image_flag, abnormal)
    if image_flag and abnormal >= MIN_ABNORMAL_IMAGES:
        return RuleDecision(True, DecidingRule.IMAGE_HEAD_OVERRIDE, image_flag, abnormal)
    if image_flag:
        return RuleDecision(False, DecidingRule.IMAGE_FLAG_TOO_FEW_ABNORMAL, image_flag, abnormal)
    return RuleDecision(False, DecidingRule.CASE_HEAD_NON_SEVERE, image_flag, abnormal)
