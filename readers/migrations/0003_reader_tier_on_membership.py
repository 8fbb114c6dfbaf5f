"""Copy each reader's global tier into his reader memberships, then drop the profiles.

A tier used to be one profile per user that every enrolment rewrote; it now belongs to
the membership in one study (trials migration 0007). Every reader membership of a user
gets the tier and experience his profile held when this runs.
"""

from django.db import migrations


def copy_tiers(apps, schema_editor):
    ReaderProfile = apps.get_model("readers", "ReaderProfile")
    Membership = apps.get_model("trials", "Membership")
    for profile in ReaderProfile.objects.iterator():
        Membership.objects.filter(user_id=profile.user_id, role="reader").update(
            tier=profile.tier, years_experience=min(profile.years_experience, 60)
        )


def restore_profiles(apps, schema_editor):
    # Back to one tier per user: the newest reader membership's.
    ReaderProfile = apps.get_model("readers", "ReaderProfile")
    Membership = apps.get_model("trials", "Membership")
    for membership in Membership.objects.filter(role="reader").exclude(tier="").order_by("created"):
        ReaderProfile.objects.update_or_create(
            user_id=membership.user_id,
            defaults={"tier": membership.tier, "years_experience": membership.years_experience},
        )


class Migration(migrations.Migration):

    dependencies = [
        ('readers', '0002_source_trial'),
        ('trials', '0007_membership_tier_and_duties'),
    ]

    operations = [
        migrations.RunPython(copy_tiers, restore_profiles),
        migrations.DeleteModel(
            name='ReaderProfile',
        ),
    ]
