"""Django's database sessions, loaded by one statement written once.

Identical to ``django.contrib.sessions.backends.db`` (same table, same encoding, same
expiry), except that loading a session, which every logged-in request does, runs a
statement from :mod:`config.statements` instead of compiling a queryset each time.
``FONTANELLE_SESSION_ENGINE=db`` (the default without a shared cache) selects it.
"""

from __future__ import annotations

import functools

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.utils import timezone

from config import statements


@functools.cache
def _load_sql(using: str, model: type[Session]) -> str:
    connection = connections[using]
    return (
        f"SELECT {statements.column(connection, model, 'session_data')}"
        f" FROM {statements.table(connection, model)}"
        f" WHERE {statements.column(connection, model, 'session_key')} = %s"
        f" AND {statements.column(connection, model, 'expire_date')} > %s"
    )


class SessionStore(DatabaseSessionStore):
    """Database sessions whose load is one precompiled ``SELECT``."""

    def _get_session_from_db(self) -> Session | None:
        if self.session_key is None:
            return None
        model = self.model
        using = router.db_for_read(model)
        connection = connections[using]
        sql = _load_sql(using, model)
        params = [
            self.session_key,
            statements.prep(model, "expire_date", timezone.now(), connection),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
        if found is None:
            self._session_key = None
            return None
        return Session(session_key=self.session_key, session_data=found[0])
