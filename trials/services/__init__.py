"""Writes of the trials app (HackSoft style: ``<entity>_<action>``, keyword-only)."""

from trials.services.cases import (
    ImportProblem,
    ImportReport,
    asset_ingest,
    case_create,
    case_exclude,
    case_import,
)
from trials.services.gold_standards import gold_standard_amend, gold_standard_sign_off
from trials.services.renditions import rendition_make_for_asset, rendition_make_for_view
from trials.services.studies import (
    dataset_create,
    membership_add,
    membership_end,
    site_create,
    study_create,
    study_transition,
    study_update_settings,
)

__all__ = [
    "ImportProblem",
    "ImportReport",
    "asset_ingest",
    "case_create",
    "case_exclude",
    "case_import",
    "dataset_create",
    "gold_standard_amend",
    "gold_standard_sign_off",
    "membership_add",
    "membership_end",
    "rendition_make_for_asset",
    "rendition_make_for_view",
    "site_create",
    "study_create",
    "study_transition",
    "study_update_settings",
]
