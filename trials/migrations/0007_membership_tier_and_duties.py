"""A reader's tier and experience move onto his membership in one study; separation of duties.

The tiers are copied from the old per-user reader profiles by readers' migration 0003.
A trigger refuses a membership that would give one person the reader role and a staff
role (coordinator, statistician) in the same study, whoever writes the row. On SQLite a
later migration that rebuilds trials_membership drops triggers: it must create them
again (``tests/trials/test_roles.py`` checks that they work).
"""

from django.conf import settings
from django.db import migrations, models

SQLITE_SQL = [
    """CREATE TRIGGER IF NOT EXISTS trials_membership_duties_insert BEFORE INSERT ON trials_membership
    WHEN EXISTS (SELECT 1 FROM trials_membership m WHERE m.study_id = NEW.study_id AND m.user_id = NEW.user_id
                 AND (m.role = 'reader') <> (NEW.role = 'reader'))
    BEGIN SELECT RAISE(ABORT, 'separation of duties: a reader may not also coordinate or analyse the same study'); END;""",
    """CREATE TRIGGER IF NOT EXISTS trials_membership_duties_update
    BEFORE UPDATE OF role, study_id, user_id ON trials_membership
    WHEN EXISTS (SELECT 1 FROM trials_membership m WHERE m.id <> NEW.id AND m.study_id = NEW.study_id
                 AND m.user_id = NEW.user_id AND (m.role = 'reader') <> (NEW.role = 'reader'))
    BEGIN SELECT RAISE(ABORT, 'separation of duties: a reader may not also coordinate or analyse the same study'); END;""",
]
# The advisory lock serialises writes for one (study, user), so two concurrent
# transactions cannot each add one side without seeing the other.
POSTGRES_SQL = """
CREATE OR REPLACE FUNCTION trials_membership_separation_of_duties() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('membership-duties:' || NEW.study_id::text || ':' || NEW.user_id::text));
    IF EXISTS (SELECT 1 FROM trials_membership m WHERE m.id <> NEW.id AND m.study_id = NEW.study_id
               AND m.user_id = NEW.user_id AND (m.role = 'reader') <> (NEW.role = 'reader')) THEN
        RAISE EXCEPTION 'separation of duties: a reader may not also coordinate or analyse the same study' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS trials_membership_duties ON trials_membership;
CREATE TRIGGER trials_membership_duties
    BEFORE INSERT OR UPDATE ON trials_membership
    FOR EACH ROW EXECUTE FUNCTION trials_membership_separation_of_duties();
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement, params=None)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_SQL, params=None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name in ("trials_membership_duties_insert", "trials_membership_duties_update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)
    elif vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS trials_membership_duties ON trials_membership;"
            " DROP FUNCTION IF EXISTS trials_membership_separation_of_duties();",
            params=None,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('trials', '0006_rendition_purpose_constraints'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='membership',
            name='tier',
            field=models.CharField(blank=True, choices=[('junior', 'Junior'), ('mid_level', 'Mid-level'), ('senior', 'Senior')], max_length=16, verbose_name='tier'),
        ),
        migrations.AddField(
            model_name='membership',
            name='years_experience',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='years of CUS experience'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('role', 'reader'), models.Q(('tier', ''), ('years_experience', 0)), _connector='OR'), name='membership_tier_only_for_readers'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('years_experience__lte', 60)), name='membership_years_range'),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
