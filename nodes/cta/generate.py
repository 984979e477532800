"""``cta.generate``: appends one call to action to the reply when the moment is right.

Gates, in order (the first that blocks is recorded as ``cta.blocked_by``): turn below
``min_turn``, an early state, frustration ≥ ``max_frustration``, contact already collected,
a reply that backs off (soft close, apology, exit offer, fallback apology) or already asks
for the contact (any part of it comes from a back-off action), a reply that
already ends with a question, a CTA already added by the fallback. Then a dynamic CTA
(competitor, pain category — highest priority) or the state's CTA, never one used before in
the conversation; among equal priorities the turn's seed decides.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.cta.catalogue import CtaCatalogue, CtaOption, dynamic_options, state_options

__all__ = ["CtaGenerator", "CtaGeneratorConfig"]


class CtaGeneratorConfig(NodeConfig):
    dynamic_flag: str = "dynamic_cta"
    fallback_key: str | None = "fallback"
    plan_key: str | None = "reply_plan"


@register("cta.generate")
class CtaGenerator:
    """Call to action by state and collected data, gated and never repeated."""

    Config = CtaGeneratorConfig
    reads = frozenset({"response", "action", "turn_index", "conv.state", "conv.frustration", "conv.collected_data", "conv.used_ctas"})
    writes = frozenset({"response", "cta", "conv.used_ctas"})

    def __init__(self, config: CtaGeneratorConfig, resources: Any) -> None:
        self.config = config
        self.catalogue: CtaCatalogue = resources.bundle.section("cta") or CtaCatalogue()
        self.reads = type(self).reads | frozenset(key for key in (config.fallback_key, config.plan_key) if key)

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        reply = str(state.get("response") or "").strip()
        used = list(state.get("conv.used_ctas") or [])
        dialogue_state = state.get("conv.state") or ""
        blocked = self._blocker(state, reply, dialogue_state)
        if blocked:
            return {"cta": {"id": None, "blocked_by": blocked}}
        used_set = set(used)
        options: list[CtaOption] = []
        if bool(ctx.flags.get(self.config.dynamic_flag, True)):
            options.extend(dynamic_options(self.catalogue, state.get("conv.collected_data") or {}, dialogue_state, used_set))
        options.extend(state_options(self.catalogue, dialogue_state, used_set))
        if not options:
            return {"cta": {"id": None, "blocked_by": "no_unused_cta"}}
        best = max(option.priority for option in options)
        top = [option for option in options if option.priority == best]
        chosen = random.Random(ctx.seed).choice(top)
        text = f"{reply} {chosen.text}".strip() if reply else chosen.text
        return {
            "response": text,
            "cta": {"id": chosen.id, "text": chosen.text, "source": chosen.source, "priority": chosen.priority, "candidates": [option.id for option in options[:5]]},
            "conv.used_ctas": used + [chosen.id],
        }

    def _blocker(self, state: Mapping[str, Any], reply: str, dialogue_state: str) -> str | None:
        catalogue = self.catalogue
        if int(state.get("turn_index") or 0) < catalogue.min_turn:
            return "early_turn"
        if dialogue_state in catalogue.early_states:
            return "early_state"
        if float(state.get("conv.frustration") or 0.0) >= catalogue.max_frustration:
            return "frustration"
        data = state.get("conv.collected_data") or {}
        if any(data.get(name) for name in catalogue.contact_fields):
            return "contact_collected"
        if not reply:
            return "empty_reply"
        if (state.get("action") or "") in catalogue.backoff_actions:
            return "backing_off"
        plan = state.get(self.config.plan_key) if self.config.plan_key else None
        if isinstance(plan, Mapping):
            directives = plan.get("directives")
            if isinstance(directives, Mapping) and directives.get("offer_exit"):
                return "backing_off"
            # A part of the reply already asks for the contact or offers the demo (the
            # follow-up of the close state, for instance): one ask per reply is enough.
            parts = [str(part.get("source", "")).split("#")[0] for part in plan.get("parts") or [] if isinstance(part, Mapping)]
            if any(part in catalogue.backoff_actions for part in parts):
                return "backing_off"
        fallback = state.get(self.config.fallback_key) if self.config.fallback_key else None
        if isinstance(fallback, Mapping):
            if fallback.get("name") == "apology":
                return "backing_off"
            if fallback.get("cta_id"):
                return "fallback_cta"
        if catalogue.skip_when_reply_asks and reply.endswith("?"):
            return "reply_asks"
        return None
