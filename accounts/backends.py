"""Django's model backend, with the per-request user load written once in SQL.

Every logged-in request loads its user (``AuthenticationMiddleware``, DRF's session
authentication). Django's ``ModelBackend.get_user`` compiles ``User.objects.get(pk=…)``
for it each time; this backend runs the same statement from :mod:`config.statements`
(the same columns, converters and ``is_active`` rule). Logging in is Django's, unchanged.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db import router
from django.db.models import Model

from config import statements

_rows: dict[type[Model], statements.Row] = {}


def _user_row(model: type[Model]) -> statements.Row:
    row = _rows.get(model)
    if row is None:
        row = _rows[model] = statements.Row(model, model._meta.db_table)
    return row


class SessionUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` is one precompiled ``SELECT``."""

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        using = router.db_for_read(model)
        from django.db import connections

        connection = connections[using]
        row = _user_row(model)
        try:
            key = statements.prep(model, model._meta.pk.name, user_id, connection)
        except (TypeError, ValueError):
            return None
        found = statements.fetch(
            f"SELECT {row.select(connection)} FROM {statements.table(connection, model)}"
            f" WHERE {statements.column(connection, model, model._meta.pk.name, row.alias)} = %s",
            [key],
            [row],
            using=using,
        )
        if found is None:
            return None
        user = cast(User, found[0][0])
        return user if self.user_can_authenticate(user) else None


#: The dotted path under which logins record this backend in the session.
USER_BACKEND = f"{__name__}.{SessionUserBackend.__name__}"
