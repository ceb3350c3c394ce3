"""Prompt and message templates, kept as text files next to this module.

``render("system", tools=...)`` reads ``templates/system.txt`` and fills ``{name}``
placeholders with ``str.format``. Templates hold no logic.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def load(name: str) -> str:
    """The text of template ``name`` (without the ``.txt`` suffix)."""
    path = TEMPLATES / f"{name}.txt"
    if not path.is_file():
        raise KeyError(f"no prompt template named {name!r}")
    return path.read_text(encoding="utf-8").strip()


def render(name: str, **values: object) -> str:
    """Template ``name`` with ``{placeholders}`` filled from ``values``."""
    return load(name).format(**values)


__all__ = ["TEMPLATES", "load", "render"]
