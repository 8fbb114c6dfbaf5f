"""The read path's hot statements, written once in SQL from the models' own names.

Every reader request loads the session and the user, and serving or answering a case
then fetches and locks its rows. Through the ORM each of these statements is compiled
again on every request: about 0.2 ms of Python for a join with a subquery, four times
the statement's own round trip to PostgreSQL on loopback, and the larger part of a
submission's CPU (``benchmarks/profile_submit.py``). The statements those requests run
every time are written here once instead (and the writes they make, :func:`update` and
:func:`insert`), with the table and column names read from the
models, the parameters prepared by the fields (:func:`prep`) and the rows turned into
model instances by the fields' own converters (:class:`Row`), so they behave as the
ORM's would on PostgreSQL and on SQLite (the embedded default).

Only statements that run on every read request belong here; everything else stays in
the ORM. Each one has a test that compares it with the queryset it replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model, signals

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


def quote(connection: BaseDatabaseWrapper, name: str) -> str:
    """A table or column name quoted for ``connection``."""
    return connection.ops.quote_name(name)


def _field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete:
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _pk(model: type[Model]) -> Field:
    pk = model._meta.pk
    assert pk is not None
    return pk


def _column_of(field: Field) -> str:
    assert field.column is not None  # concrete fields have a column
    return field.column


def table(connection: BaseDatabaseWrapper, model: type[Model]) -> str:
    """The quoted table of ``model``."""
    return quote(connection, model._meta.db_table)


def column(connection: BaseDatabaseWrapper, model: type[Model], name: str, alias: str = "") -> str:
    """The quoted column of field ``name`` (an attname such as ``session_id`` works too)."""
    sql = quote(connection, _column_of(_field(model, name)))
    return f"{quote(connection, alias)}.{sql}" if alias else sql


def prep(model: type[Model], name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``value`` as the database takes it for field ``name`` (a UUID is text on SQLite)."""
    field = _field(model, name)
    target = field.target_field if isinstance(field, ForeignKey) else field
    return target.get_db_prep_value(value, connection, prepared=False)


def for_update(connection: BaseDatabaseWrapper, alias: str) -> str:
    """``FOR UPDATE`` of ``alias``'s rows only, where the database locks rows (not SQLite)."""
    if not connection.features.has_select_for_update:
        return ""
    if connection.features.has_select_for_update_of:
        return f" FOR UPDATE OF {quote(connection, alias)}"
    return " FOR UPDATE"


class Row:
    """Some concrete fields of one model, read from a row as the ORM reads them.

    ``exclude`` leaves fields unread (deferred: reading one later costs a query, as with
    ``QuerySet.defer``); leave out only what the hot path never reads.
    """

    def __init__(self, model: type[Model], alias: str, *, exclude: Sequence[str] = ()) -> None:
        self.model = model
        self.alias = alias
        self.fields: list[Field] = [f for f in model._meta.concrete_fields if f.name not in exclude]
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list[tuple[int, list[Converter], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def select(self, connection: BaseDatabaseWrapper) -> str:
        """The select list, ``"alias"."column", …`` in field order."""
        prefix = quote(connection, self.alias)
        return ", ".join(f"{prefix}.{quote(connection, _column_of(f))}" for f in self.fields)

    def _converters_for(self, connection: BaseDatabaseWrapper) -> list[tuple[int, list, Any]]:
        found = self._converters.get(connection.alias)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                col = field.get_col(self.alias)
                # The backend's converters, then the field's, as the ORM's compiler applies them.
                converters = connection.ops.get_db_converters(col) + col.get_db_converters(
                    connection
                )
                if converters:
                    found.append((index, converters, col))
            self._converters[connection.alias] = found
        return found

    def build(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> Model:
        """The model instance of ``values`` (this part of a row), as loaded by the ORM."""
        values = list(values)
        for index, converters, col in self._converters_for(connection):
            value = values[index]
            for converter in converters:
                value = converter(value, col, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)


def fetch(
    sql: str, params: Sequence[Any], rows: Sequence[Row], *, using: str = "default"
) -> tuple[list[Model], tuple[Any, ...]] | None:
    """Run ``sql`` and build its first row's instances, one per :class:`Row` in order.

    Returns the instances and the row's remaining values (extra columns after the
    models'), or None when no row came back.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    built = []
    start = 0
    for row in rows:
        built.append(row.build(found[start : start + len(row)], connection))
        start += len(row)
    return built, tuple(found[start:])


def fetch_all(sql: str, params: Sequence[Any], row: Row, *, using: str = "default") -> list[Model]:
    """Run ``sql`` and build one instance of ``row``'s model from each row it returns."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [row.build(values, connection) for values in found]


def _listened(model: type[Model]) -> bool:
    """Whether anything listens to ``model``'s save signals (then the ORM's save runs)."""
    return signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model)


_update_sql: dict[tuple[str, type[Model], tuple[str, ...]], tuple[str, list[Field]]] = {}


def update(instance: Model, fields: Sequence[str], *, using: str = "default") -> None:
    """``instance.save(update_fields=fields)`` as one statement written once per field list.

    The fields' ``pre_save`` runs (``auto_now`` sets ``modified``) and their values are
    prepared as the ORM prepares them; like the ORM, a save that matches no row raises.
    Where a receiver listens to the model's save signals, the ORM's save runs instead.
    """
    model = type(instance)
    if _listened(model):
        instance.save(update_fields=list(fields), using=using)
        return
    connection = connections[using]
    key = (connection.vendor, model, tuple(fields))
    found = _update_sql.get(key)
    if found is None:
        targets = [_field(model, name) for name in fields]
        assignments = ", ".join(f"{quote(connection, _column_of(f))} = %s" for f in targets)
        pk = quote(connection, _column_of(_pk(model)))
        found = _update_sql[key] = (
            f"UPDATE {table(connection, model)} SET {assignments} WHERE {pk} = %s",
            targets,
        )
    sql, targets = found
    params = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in targets]
    params.append(_pk(model).get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


_insert_sql: dict[tuple[str, type[Model]], tuple[str, list[Field], bool]] = {}


def insert(instance: Model, *, using: str = "default") -> None:
    """``instance.save(force_insert=True)`` as one statement written once per model.

    Every concrete field is written after its ``pre_save`` (``auto_now_add``), an
    auto-increment key is left to the database and read back. Where a receiver listens
    to the model's save signals, the ORM's save runs instead.
    """
    model = type(instance)
    if _listened(model):
        instance.save(force_insert=True, using=using)
        return
    connection = connections[using]
    returning = connection.features.can_return_columns_from_insert
    key = (connection.vendor, model)
    found = _insert_sql.get(key)
    if found is None:
        pk = _pk(model)
        auto = bool(pk.db_returning)
        targets = [f for f in model._meta.concrete_fields if not (auto and f is pk)]
        sql = (
            f"INSERT INTO {table(connection, model)}"
            f" ({', '.join(quote(connection, _column_of(f)) for f in targets)})"
            f" VALUES ({', '.join(['%s'] * len(targets))})"
        )
        if auto and returning:
            sql += f" RETURNING {quote(connection, _column_of(pk))}"
        found = _insert_sql[key] = (sql, targets, auto)
    sql, targets, auto = found
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in targets]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto and returning:
            instance.pk = cursor.fetchone()[0]
        elif auto:
            instance.pk = connection.ops.last_insert_id(
                cursor, model._meta.db_table, _column_of(_pk(model))
            )
    instance._state.adding = False
    instance._state.db = using
