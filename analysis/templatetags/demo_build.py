"""``{% demo_build_panel %}``: what the background demo build is doing (home and login pages)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("analysis/_demo_build.html")
def demo_build_panel() -> dict[str, Any]:
    from analysis.demo_build import panel

    return panel()
