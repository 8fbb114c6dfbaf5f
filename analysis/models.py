"""Analysis jobs: a report computed for a study's data snapshot, with progress and result."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models import Study, UUIDModel


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETE = "complete", _("Complete")
    FAILED = "failed", _("Failed")


class AnalysisJob(UUIDModel):
    """One piece of heavy work of one study (a report, the analysis ZIP, the blinding audit),
    computed for the data snapshot ``snapshot`` by a Celery task (:mod:`analysis.jobs`).

    For a report, ``result`` holds :meth:`analysis.reports.base.Report.to_dict` once
    complete; the pages, the API and the exports all read that one result, so their numbers
    agree. Other kinds keep their aggregate result there, or a file in ``file``.
    """

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="analysis_jobs")
    kind = models.CharField(_("report"), max_length=32)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    snapshot = models.CharField(_("data snapshot (SHA-256)"), max_length=64)
    n_resamples = models.PositiveIntegerField(default=2000)
    result = models.JSONField(default=dict, blank=True)
    #: What the job was asked for beyond its kind (an export's language, the study status
    #: it was made under); part of what makes two jobs the same job.
    params = models.JSONField(default=dict, blank=True)
    #: Progress in the task's own units (e.g. materials timed / materials), and its step.
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    #: The downloadable result of a job that makes a file (the analysis ZIP).
    file = models.FileField(upload_to="analysis/jobs/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["study", "kind", "snapshot"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="analysisjob_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.study_id} ({self.status})"


class DemoBuildState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    BUILDING = "building", _("Being built")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    STOPPED = "stopped", _("Stopped")


class DemoBuild(models.Model):
    """Where the background build of one demo study stands (``manage.py serve_demo``).

    The builder process writes it (one short statement per change, so the web server
    reading it on SQLite is never kept waiting); the home and login pages show it.
    """

    key = models.SlugField(primary_key=True, max_length=32)
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    state = models.CharField(
        max_length=16, choices=DemoBuildState.choices, default=DemoBuildState.PENDING
    )
    step = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    #: The builder process working on it (a dead one means the build was stopped).
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return f"demo {self.key} ({self.state})"
