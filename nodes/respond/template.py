"""``respond.template``: a Russian reply per action, variations chosen reproducibly."""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model
from engine.node import NodeConfig, NodeContext
from engine.registry import register

__all__ = ["TemplateResponder", "TemplatesFile", "load_templates"]


class TemplatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    templates: dict[str, list[str]] = Field(description="action → reply variations (Russian)")


@section("templates")
def load_templates(bundle: ConfigBundle) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for doc in bundle.glob("yaml_config/templates/responses*.yaml"):
        parsed, issues = validate_model(doc, TemplatesFile)
        bundle.add(issues)
        if parsed is None:
            continue
        for action, variants in parsed.templates.items():
            if not variants:
                bundle.add([doc.issue(("templates", action), "no variations", "Give at least one reply text")])
            if action in merged:
                bundle.add([doc.issue(("templates", action), f"action '{action}' has templates in another file too", "Keep one definition", key=True)])
            merged[action] = list(variants)
    return merged


class TemplateResponderConfig(NodeConfig):
    fallback_action: str = "fallback"


class _SafeSlots(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


@register("respond.template")
class TemplateResponder:
    """Picks a variation not yet used in this conversation, seeded by conversation + turn."""

    Config = TemplateResponderConfig
    reads = frozenset({"action", "conv.collected_data", "conv.used_variants"})
    writes = frozenset({"response", "template_id", "conv.used_variants"})

    def __init__(self, config: TemplateResponderConfig, resources: Any) -> None:
        self.config = config
        self.templates: dict[str, list[str]] = resources.bundle.section("templates") or {}

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        action = state.get("action") or self.config.fallback_action
        if action not in self.templates:
            action = self.config.fallback_action
        variants = self.templates.get(action) or ["Извините, не совсем понял. Расскажите, пожалуйста, подробнее."]
        used_all: dict[str, list[int]] = dict(state.get("conv.used_variants") or {})
        used = list(used_all.get(action, []))
        fresh = [index for index in range(len(variants)) if index not in used] or list(range(len(variants)))
        if len(fresh) == len(variants):
            used = []
        choice = random.Random(ctx.seed).choice(fresh)
        used_all[action] = used + [choice]
        text = variants[choice].format_map(_SafeSlots(state.get("conv.collected_data") or {})).strip()
        return {"response": text, "template_id": f"{action}#{choice}", "conv.used_variants": used_all}
