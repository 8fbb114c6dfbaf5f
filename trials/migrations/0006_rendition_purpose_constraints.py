from django.db import migrations, models


class Migration(migrations.Migration):
    """The constraints of a rendition's purpose, apart from 0005's data step: on PostgreSQL
    a table with pending deferred foreign-key checks cannot be altered in the same
    transaction."""

    dependencies = [
        ('trials', '0005_rendition_purpose'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='rendition',
            constraint=models.UniqueConstraint(condition=models.Q(('material_set__isnull', False)), fields=('material_set', 'view', 'purpose'), name='rendition_one_per_material_view'),
        ),
        migrations.AddConstraint(
            model_name='rendition',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('purpose', 'case_media'), ('asset__isnull', False), ('material_set__isnull', True)), models.Q(('purpose__in', ['material_view', 'explanation']), ('asset__isnull', True), ('material_set__isnull', False)), _connector='OR'), name='rendition_purpose_matches_owner'),
        ),
    ]
