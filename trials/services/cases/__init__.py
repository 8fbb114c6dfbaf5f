"""Cases, gold standards, uploaded files and the manifest import.

Modules: :mod:`.case` (a case and its gold standard), :mod:`.validation` (what makes a file
or a case's sweeps acceptable), :mod:`.assets` (ingesting a file), :mod:`.manifest`
(reading a manifest row), :mod:`.importer` (the all-or-nothing import).
"""

from trials.services.cases.assets import asset_ingest, copy_upload_to
from trials.services.cases.case import case_create, case_exclude
from trials.services.cases.importer import ImportReport, case_import
from trials.services.cases.manifest import IMPORT_COLUMNS, ImportProblem
from trials.services.cases.validation import sagittal_form_conflict

__all__ = [
    "IMPORT_COLUMNS",
    "ImportProblem",
    "ImportReport",
    "asset_ingest",
    "case_create",
    "case_exclude",
    "case_import",
    "copy_upload_to",
    "sagittal_form_conflict",
]
