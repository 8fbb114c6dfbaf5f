"""The model choices for a view list exactly the views of the pure core."""

from core.labels import View
from trials.models import ViewChoices


def test_view_choices_match_core_views() -> None:
    assert [c.value for c in ViewChoices] == [v.value for v in View]
    # The labels the migrations record (Django's default label from the member name).
    assert [c.label for c in ViewChoices] == ["Ahv", "Tvv", "Bv", "Msv", "Rpsv", "Lpsv"]
