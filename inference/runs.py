"""AI runs: queue the NCLS pipeline on every included case of a dataset.

Above the tasks (it queues them) and the services (the tasks call them), so that neither
of those imports this module and the three form no cycle.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from inference.models import AIRun, ModelVersion
from inference.registry import model_require_intact
from inference.tasks import build_ai_material
from trials.audit import audit_record
from trials.models import AuditAction, Dataset, Study, StudyStatus


def ai_run_start(
    *, actor: Any, study: Study, dataset: Dataset, model_version: ModelVersion, reason: str = ""
) -> AIRun:
    """Queue the AI on every included case of a dataset (the task skips cases already done).

    A model whose files no longer match their SHA-256 is refused (:class:`ChecksumMismatch`;
    the failed verification is stored on the model, outside this request's run). While the
    study is open, a run is an amendment of its material: it needs a reason, is audited,
    and applies only to reading sessions created after it (sessions fix their material).
    """
    if dataset.study_id != study.pk:
        raise ValidationError(_("The dataset belongs to another study."))
    # The stored status, not the caller's copy: it may have opened since that was read.
    amendment = Study.objects.filter(pk=study.pk, status=StudyStatus.OPEN).exists()
    if amendment and not reason.strip():
        raise ValidationError(
            _(
                "The study is open: an AI run now amends its material. "
                "Give the reason for the amendment."
            )
        )
    model_require_intact(model_version=model_version, actor=actor)
    with transaction.atomic():
        case_ids = list(dataset.cases.filter(excluded=False).values_list("pk", flat=True))
        run = AIRun.objects.create(
            study=study,
            dataset=dataset,
            model_version=model_version,
            requested_by=actor,
            total=len(case_ids),
        )
        if amendment:
            audit_record(
                actor=actor,
                action=AuditAction.MATERIAL_AMENDED,
                target=run,
                study=study,
                after={
                    "ai_run": str(run.pk),
                    "model_version": str(model_version.pk),
                    "dataset": str(dataset.pk),
                    "cases": len(case_ids),
                },
                reason=reason.strip(),
            )

        def enqueue() -> None:
            for case_id in case_ids:
                build_ai_material.delay(
                    case_id=str(case_id), model_version_id=str(model_version.pk), run_id=str(run.pk)
                )

        transaction.on_commit(enqueue)
    return run
