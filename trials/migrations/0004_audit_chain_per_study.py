"""One audit hash chain per study (see trials.audit): an index to find a chain's newest row,
and a row that closes the old global chain where one exists."""

from django.db import migrations

# Declared here rather than in AuditEvent.Meta: audit_record looks up the newest row of a
# study's chain on every write; with (study_id, id) that is one index probe.
INDEX_SQL = "CREATE INDEX IF NOT EXISTS trials_auditevent_chain ON trials_auditevent (study_id, id)"
DROP_INDEX_SQL = "DROP INDEX IF EXISTS trials_auditevent_chain"


def close_global_chain(apps, schema_editor):
    from trials.audit import audit_chains_split

    audit_chains_split(event_model=apps.get_model("trials", "AuditEvent"))


class Migration(migrations.Migration):
    dependencies = [("trials", "0003_allocation")]
    operations = [
        migrations.RunSQL(INDEX_SQL, DROP_INDEX_SQL),
        # Not reversible in substance: the audit trail is append-only, so going back keeps
        # the closing row (the old verifier then reads it as one more row of its chain).
        migrations.RunPython(close_global_chain, migrations.RunPython.noop),
    ]
