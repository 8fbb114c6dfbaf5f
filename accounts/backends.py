"""Django's model backend, with the per-request user load written once in SQL.

Every logged-in request loads its user (``AuthenticationMiddleware``, DRF's session
authentication). Django's ``ModelBackend.get_user`` compiles ``User.objects.get(pk=…)``
for it each time; this backend runs the same statement from :mod:`config.statements`
(the same columns, converters and ``is_active`` rule). Logging in is Django's, unchanged.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db import connections, router
from django.db.models import Model

from config import statements


@functools.cache
def _user_statement(using: str, model: type[Model]) -> tuple[str, statements.Row]:
    """The user's ``SELECT`` by primary key on database ``using``, and its row reader."""
    connection = connections[using]
    row = statements.Row(model, model._meta.db_table)
    pk = model._meta.pk.name  # type: ignore[union-attr]
    sql = (
        f"SELECT {row.select(connection)} FROM {statements.table(connection, model)}"
        f" WHERE {statements.column(connection, model, pk, row.alias)} = %s"
    )
    return sql, row


class SessionUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` is one precompiled ``SELECT``."""

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        using = router.db_for_read(model)
        sql, row = _user_statement(using, model)
        try:
            key = statements.prep(model, model._meta.pk.name, user_id, connections[using])  # type: ignore[union-attr]
        except (TypeError, ValueError):
            return None
        found = statements.fetch(sql, [key], [row], using=using)
        if found is None:
            return None
        user = cast(User, found[0][0])
        return user if self.user_can_authenticate(user) else None


#: The dotted path under which logins record this backend in the session.
USER_BACKEND = f"{__name__}.{SessionUserBackend.__name__}"
