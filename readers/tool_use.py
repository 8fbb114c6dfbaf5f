"""Workstation tool use recorded with a read: how often each viewing tool was used.

Counts only (pure view state is never stored): the workstation counts window/level drags,
zoom steps, pans, frame steps, cine plays, caliper measurements and resets while a case is
open and sends them with the answer. The same tools and counters exist for every material,
whatever its source, so the counts tell nothing about it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

#: The counters a read may carry, in export order.
TOOL_KEYS: tuple[str, ...] = (
    "window_level",
    "zoom",
    "pan",
    "frame_step",
    "cine",
    "caliper",
    "reset",
)
#: Upper bound of one counter (a case read for hours with the wheel held stays below it).
TOOL_COUNT_MAX = 100_000


def tool_use_clean(value: Any) -> dict[str, int]:
    """Validated tool counts: a mapping of known keys to whole numbers 0..TOOL_COUNT_MAX.

    ``None`` or an empty mapping means "not recorded" (``{}``); otherwise every known key is
    present in the result (missing ones as 0), so exports need no special case.

    Raises
    ------
    ValidationError
        Naming the unknown key or the bad count.
    """
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValidationError(_("Tool use must be a JSON object of counts.")) from exc
    if not isinstance(value, dict):
        raise ValidationError(_("Tool use must be a JSON object of counts."))
    unknown = sorted(str(key) for key in value if key not in TOOL_KEYS)
    if unknown:
        raise ValidationError(_("Unknown tool: %(name)s.") % {"name": ", ".join(unknown)})
    counts: dict[str, int] = {}
    for key in TOOL_KEYS:
        count = value.get(key, 0)
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 0 <= count <= TOOL_COUNT_MAX
        ):
            raise ValidationError(
                _("The count of %(name)s must be a whole number from 0 to %(max)s.")
                % {"name": key, "max": TOOL_COUNT_MAX}
            )
        counts[key] = count
    return counts
