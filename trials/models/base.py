"""The abstract base of the trial models: a UUID key with creation and modification times."""

from __future__ import annotations

import uuid

from django.db import models


class UUIDModel(models.Model):
    """A UUID primary key with creation and modification times (grand-challenge style)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
