"""Jinja2 for the web pages, next to the email templates they reuse.

``web/…`` are the pages; ``alerts/parts/…`` are the email body partials, so the
acknowledgement page states an alert exactly as its email did. Autoescaped, and a
missing variable is an error, as in the emails.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from aewatch.alerts import render as alert_render


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PrefixLoader(
            {
                "web": jinja2.PackageLoader("aewatch.templates", "web"),
                "alerts": jinja2.PackageLoader("aewatch.templates", "alerts"),
            }
        ),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(alert_render.environment().filters)
    env.globals["part_for"] = alert_render.part_for
    return env


def page(name: str, **variables: Any) -> str:
    return environment().get_template(f"web/{name}").render(**variables)


def alert_body(kind: str, variables: dict[str, Any], now: Any) -> Markup | None:
    """The alert's email body partial (already escaped), or None if it cannot be drawn:
    the page then shows the subject line, never an error instead of the button."""
    try:
        html = (
            environment()
            .get_template(f"alerts/parts/{alert_render.part_for(kind)}.html")
            .render(**variables, now=now)
        )
    except Exception:  # a payload an older template no longer fits
        return None
    return Markup(html)  # rendered by an autoescaping environment: already escaped
