"""``fallback.tiers``: the four-tier fallback of the brief, after the responder.

Triggered when an upstream node failed (the executor's ``error`` key, set by
``on_error: fallback``), when the reply is empty, or when the intent is unclear and the
responder fell back to a plain template. The tiers listed for the trigger in
``yaml_config/fallback.yaml`` are tried in order:

1. ``knowledge`` — an answer from the knowledge base (+ the state's follow-up question);
2. ``company_facts`` — a fact about Wipon not told yet + a dynamic CTA (or a steering question);
3. ``generic`` — the template reply for the action (kept when the responder produced one);
4. ``apology`` — a polite apology that keeps the conversation open.

The trace shows ``fallback`` = {triggered, tier, name, reason, cta_id}; per-conversation
counts of each tier are kept in ``conv.extra["fallback"]["tiers"]`` for metrics.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.cta.catalogue import CtaCatalogue, dynamic_options
from nodes.respond.templates import Composition
from nodes.respond.variations import ReplyMemory, choose_variant, part_seed, record_use

__all__ = ["FallbackTiers", "FallbackSettings", "load_fallback_settings", "TIER_NUMBERS"]

TierName = Literal["knowledge", "company_facts", "generic", "apology"]
TIER_NUMBERS: dict[str, int] = {"knowledge": 1, "company_facts": 2, "generic": 3, "apology": 4}
_LAST_RESORT = "Извините, произошла заминка. Расскажите, пожалуйста, что вас интересует — касса, учёт или оборудование?"


_ALL_TIERS: list[TierName] = ["knowledge", "company_facts", "generic", "apology"]
_NO_FACTS: list[TierName] = ["knowledge", "generic", "apology"]


class Triggers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    upstream_error: list[TierName] = Field(default_factory=lambda: list(_ALL_TIERS))
    empty_reply: list[TierName] = Field(default_factory=lambda: list(_ALL_TIERS))
    unclear_intent: list[TierName] = Field(default_factory=lambda: list(_NO_FACTS))
    repeated_unclear: list[TierName] = Field(default_factory=lambda: list(_ALL_TIERS))


class FallbackSettings(BaseModel):
    """The whole ``yaml_config/fallback.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    triggers: Triggers = Triggers()
    unclear_intents: list[str] = Field(default_factory=lambda: ["unclear"])
    repeated_unclear_turns: int = Field(default=2, ge=1)
    knowledge_min_score: float = Field(default=0.5, ge=0, le=1)
    fact_intros: list[str] = Field(default_factory=lambda: ["{fact}"])
    fact_closings: list[str] = Field(default_factory=list)
    apology_action: str = "apology"


@section("fallback")
def load_fallback_settings(bundle: ConfigBundle) -> FallbackSettings:
    loaded = bundle.optional_model("yaml_config/fallback.yaml", FallbackSettings)
    if loaded is None:
        return FallbackSettings()
    doc, parsed = loaded
    templates = bundle.section("templates") or {}
    if templates and parsed.apology_action not in templates:
        bundle.add([doc.issue(("apology_action",), f"no templates for action '{parsed.apology_action}'", "Add it to yaml_config/templates/responses*.yaml")])
    return parsed


class FallbackTiersConfig(NodeConfig):
    intent_key: str | None = "intent"
    knowledge_key: str | None = "knowledge"
    dynamic_flag: str = "dynamic_cta"


class _Turn:
    """Mutable working copy of what the fallback may change this turn."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.memory = ReplyMemory.from_extra(state.get("conv.extra"))
        self.used_variants = {key: list(value) for key, value in (state.get("conv.used_variants") or {}).items()}
        self.used_ctas = list(state.get("conv.used_ctas") or [])
        self.data = dict(state.get("conv.collected_data") or {})
        self.cta_id: str | None = None


@register("fallback.tiers")
class FallbackTiers:
    """Knowledge base → company facts + dynamic CTA → generic by action → apology."""

    Config = FallbackTiersConfig
    reads = frozenset({"response", "template_id", "reply_plan", "action", "error", "conv.state", "conv.collected_data",
                       "conv.used_ctas", "conv.used_variants", "conv.extra"})
    writes = frozenset({"response", "template_id", "fallback", "conv.extra", "conv.used_ctas", "conv.used_variants"})

    def __init__(self, config: FallbackTiersConfig, resources: Any) -> None:
        self.config = config
        bundle = resources.bundle
        self.settings: FallbackSettings = bundle.section("fallback") or FallbackSettings()
        self.templates: dict[str, list[str]] = bundle.section("templates") or {}
        self.composition: Composition = bundle.section("composition") or Composition()
        self.catalogue: CtaCatalogue = bundle.section("cta") or CtaCatalogue()
        self.kb = bundle.section("knowledge")
        self.reads = type(self).reads | frozenset(key for key in (config.intent_key, config.knowledge_key) if key)

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        settings = self.settings
        reply = str(state.get("response") or "").strip()
        error = state.get("error")
        intent = str(state.get(self.config.intent_key) or "") if self.config.intent_key else ""
        plan = state.get("reply_plan") or {}
        extra = dict(state.get("conv.extra") or {})
        own = dict(extra.get("fallback") or {})
        unclear = intent in settings.unclear_intents
        streak = int(own.get("unclear_streak", 0)) + 1 if unclear else 0
        trigger: str | None = None
        if error:
            trigger = "upstream_error"
        elif not reply:
            trigger = "empty_reply"
        elif unclear and (not isinstance(plan, Mapping) or plan.get("mode", "template") == "template"):
            trigger = "repeated_unclear" if streak >= settings.repeated_unclear_turns else "unclear_intent"
        own["unclear_streak"] = streak
        if trigger is None:
            extra["fallback"] = own
            return {"fallback": {"triggered": False, "tier": 0, "name": None}, "conv.extra": extra}
        work = _Turn(state)
        reason = trigger if not error else f"{trigger}: {error.get('node', '?') if isinstance(error, Mapping) else error}"
        text, template_id, name = "", "", "apology"
        tried: list[str] = []
        for tier in getattr(settings.triggers, trigger):
            tried.append(tier)
            produced = self._tier(tier, state, ctx, work, reply, bool(error))
            if produced is not None:
                text, template_id = produced
                name = tier
                break
        if not text:
            text, template_id, name = _LAST_RESORT, "last_resort", "apology"
        if text != reply:
            work.memory.remember(text)
        tiers = dict(own.get("tiers") or {})
        tiers[name] = int(tiers.get(name, 0)) + 1
        own["tiers"] = tiers
        merged = work.memory.to_extra(extra)
        merged["fallback"] = own
        return {
            "response": text,
            "template_id": template_id,
            "fallback": {"triggered": True, "tier": TIER_NUMBERS[name], "name": name, "reason": reason, "tried": tried,
                         "cta_id": work.cta_id, "changed": text != reply},
            "conv.extra": merged,
            "conv.used_ctas": work.used_ctas,
            "conv.used_variants": work.used_variants,
        }

    # -- tiers ---------------------------------------------------------------------------------
    def _tier(self, tier: str, state: Mapping[str, Any], ctx: NodeContext, work: _Turn, reply: str, failed: bool) -> tuple[str, str] | None:
        if tier == "knowledge":
            return self._knowledge(state, ctx, work)
        if tier == "company_facts":
            return self._company_facts(state, ctx, work)
        if tier == "generic":
            if reply and not failed:
                return reply, str(state.get("template_id") or "generic")
            action = state.get("action") if not failed else None
            for candidate in (action, self.composition.followups.get(state.get("conv.state") or "")):
                if candidate and candidate in self.templates and candidate != self.composition.fallback_action:
                    return self._template(candidate, ctx, work)
            return None
        return self._template(self.settings.apology_action, ctx, work)

    def _template(self, action: str, ctx: NodeContext, work: _Turn) -> tuple[str, str] | None:
        variants = self.templates.get(action) or []
        choice = choose_variant(action, variants, seed=part_seed(ctx.seed, "fallback"), used=work.used_variants.get(action, ()),
                                memory=work.memory, slots=work.data, labels=self.composition.slot_labels)
        if choice is None:
            return None
        work.used_variants = record_use(work.used_variants, choice, len(variants))
        return choice.text, choice.template_id

    def _knowledge(self, state: Mapping[str, Any], ctx: NodeContext, work: _Turn) -> tuple[str, str] | None:
        knowledge = state.get(self.config.knowledge_key) if self.config.knowledge_key else None
        if self.kb is None or not isinstance(knowledge, Mapping) or not knowledge.get("section_id"):
            return None
        if float(knowledge.get("score") or 0.0) < self.settings.knowledge_min_score:
            return None
        section = self.kb.get(knowledge["section_id"])
        if section is None or section.id in work.memory.answered:
            return None
        work.memory.answered.append(section.id)
        parts, ids = [section.answer.strip()], [f"kb:{section.id}"]
        followup = self.composition.followups.get(state.get("conv.state") or "")
        if followup:
            produced = self._template(followup, ctx, work)
            if produced is not None:
                parts.append(produced[0])
                ids.append(produced[1])
        return " ".join(parts), "+".join(ids)

    def _company_facts(self, state: Mapping[str, Any], ctx: NodeContext, work: _Turn) -> tuple[str, str] | None:
        facts = [fact for fact in (self.kb.company_facts if self.kb is not None else ()) if fact.id not in work.memory.facts]
        if not facts:
            return None
        fact = random.Random(part_seed(ctx.seed, "fact")).choice(facts)
        work.memory.facts.append(fact.id)
        body = fact.text.strip()
        slots = {"fact": body, "fact_lower": body[:1].lower() + body[1:]}
        intro = choose_variant("fallback_fact_intro", self.settings.fact_intros, seed=ctx.seed, memory=work.memory, slots=slots)
        parts, ids = [intro.text if intro is not None else body], [f"fact:{fact.id}"]
        options = dynamic_options(self.catalogue, work.data, state.get("conv.state") or "", set(work.used_ctas)) if ctx.flags.get(self.config.dynamic_flag, True) else []
        if options:
            option = options[0]
            parts.append(option.text)
            ids.append(f"cta:{option.id}")
            work.used_ctas.append(option.id)
            work.cta_id = option.id
        else:
            closing = choose_variant("fallback_fact_closing", self.settings.fact_closings, seed=ctx.seed, memory=work.memory)
            if closing is not None:
                parts.append(closing.text)
        return " ".join(parts), "+".join(ids)
