"""Response nodes."""
from __future__ import annotations

from nodes.respond.template import TemplateResponder

__all__ = ["TemplateResponder"]
