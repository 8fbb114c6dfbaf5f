"""On PostgreSQL, a trigger refuses UPDATE and DELETE on the audit trail."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION trials_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS trials_auditevent_no_change ON trials_auditevent;
CREATE TRIGGER trials_auditevent_no_change
    BEFORE UPDATE OR DELETE ON trials_auditevent
    FOR EACH ROW EXECUTE FUNCTION trials_auditevent_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS trials_auditevent_no_change ON trials_auditevent;
DROP FUNCTION IF EXISTS trials_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No parameters: psycopg must not read the "%" of RAISE as a placeholder.
        schema_editor.execute(TRIGGER_SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("trials", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
