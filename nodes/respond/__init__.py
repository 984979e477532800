"""Response nodes: templates + knowledge answers (``respond.template``), optional LLM wording (``respond.llm``)."""
from __future__ import annotations

from nodes.respond import checks  # noqa: F401  (cross-file check registration)
from nodes.respond.llm import LLMResponder
from nodes.respond.prompts import load_reply_prompts
from nodes.respond.template import TemplateResponder
from nodes.respond.templates import load_composition, load_templates

__all__ = ["LLMResponder", "TemplateResponder", "load_composition", "load_reply_prompts", "load_templates"]
