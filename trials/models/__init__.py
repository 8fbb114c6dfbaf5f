"""The models of the trials app, one module per idea; every name is re-exported here.

Django finds the app's models through this package, and the rest of the code imports them
as ``from trials.models import X``.
"""

from trials.models.allocations import (
    Allocation,
    AllocationList,
    CrossoverCaseAllocation,
    CrossoverReaderAllocation,
    CrossoverSequence,
)
from trials.models.audit import (
    AuditAction,
    AuditEvent,
)
from trials.models.base import UUIDModel
from trials.models.cases import (
    SAGITTAL_SIDES,
    Asset,
    AssetKind,
    Case,
    Orientation,
    Sex,
    ViewChoices,
    asset_upload_to,
)
from trials.models.gold_standards import (
    CONDITION_VALUES,
    GoldStandard,
    GoldStandardAmendment,
    VolpeGrade,
)
from trials.models.materials import (
    MaterialSet,
    MaterialSource,
    MaterialStatus,
)
from trials.models.memberships import (
    STAFF_ROLES,
    Membership,
    MembershipQuerySet,
    ReaderTier,
    Role,
)
from trials.models.renditions import (
    Rendition,
    RenditionKind,
    RenditionPurpose,
    RenditionStatus,
    rendition_upload_to,
)
from trials.models.studies import (
    STATUS_TRANSITIONS,
    Dataset,
    DatasetKind,
    Site,
    Study,
    StudyDesign,
    StudyStatus,
)

__all__ = [
    "CONDITION_VALUES",
    "SAGITTAL_SIDES",
    "STAFF_ROLES",
    "STATUS_TRANSITIONS",
    "Allocation",
    "AllocationList",
    "Asset",
    "AssetKind",
    "AuditAction",
    "AuditEvent",
    "Case",
    "CrossoverCaseAllocation",
    "CrossoverReaderAllocation",
    "CrossoverSequence",
    "Dataset",
    "DatasetKind",
    "GoldStandard",
    "GoldStandardAmendment",
    "MaterialSet",
    "MaterialSource",
    "MaterialStatus",
    "Membership",
    "MembershipQuerySet",
    "Orientation",
    "ReaderTier",
    "Rendition",
    "RenditionKind",
    "RenditionPurpose",
    "RenditionStatus",
    "Role",
    "Sex",
    "Site",
    "Study",
    "StudyDesign",
    "StudyStatus",
    "UUIDModel",
    "ViewChoices",
    "VolpeGrade",
    "asset_upload_to",
    "rendition_upload_to",
]
