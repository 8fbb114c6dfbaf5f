"""What the readers' ROC scores are, in the words the reports use (pure).

A study that collects probability-of-severe ratings is analysed on them; otherwise, or
when some reads lack a rating, on the readers' binary answers
(:func:`analysis.frames.score_source_of`). Each text is one fixed sentence, so the pages
translate it like any other methods text.
"""

from __future__ import annotations

from analysis.frames import SCORE_BINARY, SCORE_BINARY_INCOMPLETE, SCORE_RATINGS, StudyData
from analysis.reports._common import gettext_noop as _

SCORE_TEXTS: dict[str, str] = {
    SCORE_RATINGS: _(
        "Readers' AUCs (empirical, ties ½; DeLong 95 % CI where shown) are from reader ratings "
        "0–100: each reader's probability that the case is severe, which the study collects "
        "besides the yes/no answer. The AI's score is its severe probability."
    ),
    SCORE_BINARY: _(
        "Readers' AUCs (empirical, ties ½; DeLong 95 % CI where shown) are from binary answers; "
        "the study collects no ratings. A reader's ROC curve then has one operating point and "
        "his AUC is (sensitivity + specificity) / 2. The AI's score is its severe probability."
    ),
    SCORE_BINARY_INCOMPLETE: _(
        "Readers' AUCs (empirical, ties ½; DeLong 95 % CI where shown) are from binary answers, "
        "although the study collects ratings: some reads have no rating (the setting was off "
        "when they were read), and one ROC analysis cannot mix ratings with yes/no answers. A "
        "reader's AUC is then (sensitivity + specificity) / 2. The AI's score is its severe "
        "probability."
    ),
}


def score_text(data: StudyData) -> str:
    """The methods of a reader-AUC table: which score the readers were analysed on."""
    return SCORE_TEXTS[data.score_source]


def score_notes(data: StudyData) -> tuple[str, ...]:
    """A note when the readers fall back to their binary answers (none for ratings)."""
    return () if data.score_source == SCORE_RATINGS else (SCORE_TEXTS[data.score_source],)
