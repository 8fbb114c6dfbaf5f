"""Studies, sites, datasets and memberships."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trials.audit import audit_chain_head, audit_record
from trials.models import (
    STATUS_TRANSITIONS,
    AuditAction,
    Dataset,
    Membership,
    Role,
    Site,
    Study,
    StudyDesign,
    StudyStatus,
)
from trials.selectors import membership_conflict
from trials.signatures import Signature, content_sha256, signature_apply

#: Status changes that need the coordinator's electronic signature.
SIGNED_TRANSITIONS: tuple[str, ...] = (StudyStatus.LOCKED, StudyStatus.UNBLINDED)

_SETTINGS_FIELDS = (
    "title",
    "registry_id",
    "washout_days",
    "allow_revisits",
    "cine_fps",
    "collects_rating",
    "crossover_blocks",
)


@transaction.atomic
def study_create(
    *,
    actor: Any,
    title: str,
    design: str,
    registry_id: str = "",
    washout_days: int = 28,
    allow_revisits: bool = False,
    cine_fps: int = 25,
    collects_rating: bool = False,
    is_demo: bool = False,
    crossover_blocks: int = 2,
) -> Study:
    """Create a draft study; its creator becomes its first coordinator."""
    study = Study(
        title=title,
        design=design,
        registry_id=registry_id,
        washout_days=washout_days,
        allow_revisits=allow_revisits,
        cine_fps=cine_fps,
        collects_rating=collects_rating,
        is_demo=is_demo,
        crossover_blocks=crossover_blocks,
    )
    study.full_clean()
    study.save()
    audit_record(
        actor=actor,
        action=AuditAction.STUDY_CREATED,
        target=study,
        after={
            "title": title,
            "design": design,
            "registry_id": registry_id,
            "collects_rating": collects_rating,
        },
    )
    if actor is not None:
        membership_add(actor=actor, study=study, user=actor, role=Role.COORDINATOR)
    return study


@transaction.atomic
def study_update_settings(*, actor: Any, study: Study, **changes: Any) -> Study:
    """Change a study's title or reading settings; only while it is a draft."""
    unknown = set(changes) - set(_SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown study settings: %s") % ", ".join(sorted(unknown)))
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != StudyStatus.DRAFT:
        raise ValidationError(_("Settings can only change while the study is a draft."))
    before = {name: getattr(study, name) for name in changes}
    for name, value in changes.items():
        setattr(study, name, value)
    study.full_clean()
    study.save()
    audit_record(
        actor=actor, action=AuditAction.STUDY_UPDATED, target=study, before=before, after=changes
    )
    return study


def study_signed_content(*, study: Study, to: str) -> dict[str, Any]:
    """What a signature over a study's lock or unblinding signs.

    The study's identity and settings, the status change, the allocation commitment and
    the head of the study's audit chain, which commits to every earlier row of it (every
    case, read, guess and amendment): change any of them and the hash changes.
    """
    return {
        "object_type": Study._meta.label_lower,
        "object_id": str(study.pk),
        "title": study.title,
        "registry_id": study.registry_id,
        "design": study.design,
        "from": study.status,
        "to": to,
        "allocation_commitment": study.allocation_commitment,
        "cases": study.cases.count(),
        "audit_head": audit_chain_head(study.pk),
    }


@transaction.atomic
def study_transition(
    *, actor: Any, study: Study, to: str, reason: str = "", signature: Signature | None = None
) -> Study:
    """Move a study along draft → open → locked → unblinded, and nothing else.

    Locking and unblinding need ``actor``'s electronic signature
    (:func:`trials.signatures.signature_make`), recorded in the audit chain with the hash
    of :func:`study_signed_content`; unblinding needs a reason too. Other apps hook their
    own preconditions (e.g. the allocation commitment on opening) by calling their
    services before this one.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if to not in STATUS_TRANSITIONS[study.status]:
        raise ValidationError(
            _("A study cannot go from %(current)s to %(to)s.") % {"current": study.status, "to": to}
        )
    if to == StudyStatus.UNBLINDED and not reason.strip():
        raise ValidationError(_("Unblinding needs a reason."))
    signed: dict[str, Any] = {}
    if to in SIGNED_TRANSITIONS:
        content = study_signed_content(study=study, to=to)
        event = signature_apply(
            signature=signature, actor=actor, target=study, purpose=f"study.{to}", content=content
        )
        signed = {
            "signature": {
                "event": event.id,
                "content_sha256": content_sha256(content),
                "meaning": event.after["meaning"],
            }
        }
    if to == StudyStatus.OPEN and study.design in (
        StudyDesign.SOURCE_BLINDED,
        StudyDesign.COUNTERBALANCED_CROSSOVER,
    ):
        from trials.services.allocation import allocation_commit_on_open

        allocation_commit_on_open(actor=actor, study=study)
    before = {"status": study.status}
    study.status = to
    now = timezone.now()
    if to == StudyStatus.OPEN:
        study.opened_at = now
    elif to == StudyStatus.LOCKED:
        study.locked_at = now
    elif to == StudyStatus.UNBLINDED:
        study.unblinded_at = now
    study.save(update_fields=["status", "opened_at", "locked_at", "unblinded_at", "modified"])
    audit_record(
        actor=actor,
        action=AuditAction.STUDY_UNBLINDED
        if to == StudyStatus.UNBLINDED
        else AuditAction.STUDY_STATUS_CHANGED,
        target=study,
        before=before,
        after={"status": to, **signed},
        reason=reason,
    )
    return study


@transaction.atomic
def site_create(*, actor: Any, study: Study, name: str) -> Site:
    """Add a hospital to a study."""
    site = Site(study=study, name=name)
    site.full_clean()
    site.save()
    audit_record(actor=actor, action=AuditAction.SITE_CREATED, target=site, after={"name": name})
    return site


@transaction.atomic
def dataset_create(
    *, actor: Any, study: Study, name: str, kind: str, site: Site | None = None
) -> Dataset:
    """Add a dataset (internal, external or blind-sweep) to a study."""
    if site is not None and site.study_id != study.pk:
        raise ValidationError(_("The site belongs to another study."))
    dataset = Dataset(study=study, name=name, kind=kind, site=site)
    dataset.full_clean()
    dataset.save()
    audit_record(
        actor=actor,
        action=AuditAction.DATASET_CREATED,
        target=dataset,
        after={"name": name, "kind": kind, "site": site.name if site else None},
    )
    return dataset


@transaction.atomic
def membership_add(
    *, actor: Any, study: Study, user: Any, role: str, tier: str = "", years_experience: int = 0
) -> Membership:
    """Give ``user`` a role in ``study`` (idempotent: an existing membership is returned).

    A reader's ``tier`` and ``years_experience`` are his in this study only; given again
    with other values they change (audited) while the study is a draft, and are refused
    after. A reader may not hold a staff role in the same study, nor the reverse.
    """
    # Membership changes of one study run one at a time, so two concurrent requests
    # cannot give one person both sides of the separation of duties.
    Study.objects.select_for_update().filter(pk=study.pk).exists()
    if role != Role.READER and (tier or years_experience):
        raise ValidationError(_("Only a reader has a tier and years of experience."))
    membership = Membership.objects.filter(study=study, user=user, role=role).first()
    if membership is None:
        conflict = membership_conflict(study=study, user=user, role=role)
        if conflict:
            raise ValidationError(conflict)
        membership = Membership(
            study=study, user=user, role=role, tier=tier, years_experience=years_experience
        )
        membership.full_clean()
        membership.save()
        after = {"user": user.get_username(), "role": role}
        if role == Role.READER:
            after |= {"tier": tier, "years_experience": years_experience}
        audit_record(
            actor=actor, action=AuditAction.MEMBERSHIP_ADDED, target=membership, after=after
        )
        return membership
    if membership.ended_at is not None:
        # Enrolled again after his membership ended: the same row resumes (audited).
        before = {"ended_at": membership.ended_at, "end_reason": membership.end_reason}
        membership.ended_at, membership.ended_by, membership.end_reason = None, None, ""
        membership.save(update_fields=["ended_at", "ended_by", "end_reason", "modified"])
        audit_record(
            actor=actor,
            action=AuditAction.MEMBERSHIP_RESUMED,
            target=membership,
            before=before,
            after={"user": user.get_username(), "role": role},
        )
    if (
        role == Role.READER
        and tier
        and (membership.tier, membership.years_experience) != (tier, years_experience)
    ):
        if study.status != StudyStatus.DRAFT:
            raise ValidationError(
                _("A reader's tier and experience can change only while the study is a draft.")
            )
        before = {"tier": membership.tier, "years_experience": membership.years_experience}
        membership.tier = tier
        membership.years_experience = years_experience
        membership.full_clean()
        membership.save(update_fields=["tier", "years_experience", "modified"])
        audit_record(
            actor=actor,
            action=AuditAction.READER_ENROLLED,
            target=membership,
            before=before,
            after={"user": user.get_username(), "tier": tier, "years_experience": years_experience},
        )
    return membership


@transaction.atomic
def membership_end(*, actor: Any, membership: Membership, reason: str) -> Membership:
    """End a membership (audited, with a reason): the person loses access to the study.

    The row stays, with the person's reads and sessions, as the study's history; every
    permission check sees only memberships not ended (``Membership.objects.active()``).
    A study keeps at least one coordinator whose membership has not ended.
    """
    Study.objects.select_for_update().filter(pk=membership.study_id).exists()
    membership = Membership.objects.select_related("user", "study").get(pk=membership.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Ending a membership needs a reason."))
    if membership.ended_at is not None:
        raise ValidationError(_("This membership has already ended."))
    if membership.role == Role.COORDINATOR and not (
        Membership.objects.active()
        .filter(study=membership.study, role=Role.COORDINATOR)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError(_("A study needs a coordinator: add another before ending this one."))
    membership.ended_at = timezone.now()
    membership.ended_by = actor
    membership.end_reason = reason
    membership.full_clean()
    membership.save(update_fields=["ended_at", "ended_by", "end_reason", "modified"])
    audit_record(
        actor=actor,
        action=AuditAction.MEMBERSHIP_ENDED,
        target=membership,
        after={"user": membership.user.get_username(), "role": membership.role},
        reason=reason,
    )
    return membership
