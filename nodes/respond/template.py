"""``respond.template``: the Russian reply for the turn's action, grounded in the knowledge base.

How a reply is assembled (rules in ``yaml_config/templates/composition.yaml``):

- **answer** — the action answers a question (``question_actions``) or the intent is a
  question, and the knowledge node found a section (the message reads as a question, or the
  match is strong — so «лучше в WhatsApp» after "WhatsApp or e-mail?" is not answered with
  the WhatsApp integration even if classified as a question): the section's answer (or a short "as I
  said" variant when it was answered before), then the follow-up question of the current
  dialogue state, so a question mid-flow is answered *and* the flow keeps collecting data;
- **composite** — any other action, but the message also asks something the knowledge base
  answers with confidence: the answer, then the action's own template;
- **template** — the action's template alone (a question action with no section found gets
  its generic template plus the state's follow-up).

A section whose answer cannot give what the kind of question wants (a price for a price
question — ``unmet_focus`` from the knowledge node) is not used: the action's template is
better than an off-target answer (``reply_plan.kb_rejected`` says so).

Variants are chosen reproducibly from the turn's seed, never repeating a variant or a
sentence while alternatives remain; ``{slots}`` come from collected data; response
directives (policy) and tone guidance shape the result (apology, exit offer, word limit —
the answer sentences the question asks for survive a word limit first).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.respond.directives import ReplyPart, collect_directives, shape
from nodes.respond.templates import Composition, TemplatesFile, load_templates
from nodes.respond.variations import Choice, ReplyMemory, choose_variant, record_use, sentence_key, split_sentences

__all__ = ["TemplateResponder", "TemplateResponderConfig", "TemplatesFile", "load_templates"]

_LAST_RESORT = "Извините, не совсем понял. Расскажите, пожалуйста, о вашем бизнесе — чем занимаетесь?"


class TemplateResponderConfig(NodeConfig):
    intent_key: str | None = "intent"
    knowledge_key: str | None = "knowledge"
    directives_key: str | None = None  # e.g. response_directives, once a policy node writes it
    tone_key: str | None = None  # e.g. tone_guidance, once a tone node writes it
    variations_flag: str = "response_variations"
    directives_flag: str = "response_directives"


class _Builder:
    """Collects the parts of one reply and the variant choices behind them."""

    def __init__(self, templates: Mapping[str, list[str]], composition: Composition, *, seed: int, vary: bool, slots: Mapping[str, Any], used: Mapping[str, list[int]], memory: ReplyMemory) -> None:
        self.templates = templates
        self.composition = composition
        self.seed = seed
        self.vary = vary
        self.slots = slots
        self.used = {key: list(value) for key, value in used.items()}
        self.memory = memory
        self.parts: list[ReplyPart] = []
        self.focus: list[Any] = []

    def template(self, action: str, kind: str) -> Choice | None:
        variants = self.templates.get(action) or []
        choice = choose_variant(action, variants, seed=self.seed, used=self.used.get(action, ()), memory=self.memory,
                                slots=self.slots, labels=self.composition.slot_labels, vary=self.vary)
        if choice is None:
            return None
        self.used = record_use(self.used, choice, len(variants))
        self.parts.append(ReplyPart(kind, choice.text, choice.template_id))
        return choice

    def answer(self, section: Any, question: str = "") -> None:
        if section.id in self.memory.answered and self.composition.repeat_answer:
            slots = {**self.slots, "title": section.title[:1].lower() + section.title[1:]}
            choice = choose_variant("repeat_answer", self.composition.repeat_answer, seed=self.seed, memory=self.memory, slots=slots, vary=self.vary)
            if choice is not None:
                self.parts.append(ReplyPart("answer", choice.text, f"kb:{section.id}:repeat"))
                return
        text = section.answer.strip()
        self.parts.append(ReplyPart("answer", text, f"kb:{section.id}", _relevance(split_sentences(text), question, self.focus)))

    def drop_repeats(self) -> None:
        """Remove sentences said earlier in the conversation, unless nothing would remain."""
        kept: list[ReplyPart] = []
        said = self.memory._keys()  # built once for every sentence of the reply
        for part in self.parts:
            sentences = split_sentences(part.text)
            ranks = part.ranks if part.ranks is not None and len(part.ranks) == len(sentences) else None
            fresh = [index for index, sentence in enumerate(sentences) if sentence_key(sentence) not in said]
            if fresh:
                kept.append(ReplyPart(part.kind, " ".join(sentences[index] for index in fresh), part.source, [ranks[index] for index in fresh] if ranks else None))
        if kept:
            self.parts = kept


_WORD = re.compile(r"[0-9a-zа-яё]+")


@lru_cache(maxsize=8192)  # answer sentences come from the knowledge base: the same ones recur
def _stems(text: str) -> frozenset[str]:
    return frozenset(word[:5] for word in _WORD.findall(text.lower().replace("ё", "е")) if len(word) >= 4 or word.isdigit())


def _relevance(sentences: list[str], question: str, focus: list[Any]) -> list[float]:
    """How much each answer sentence matters to the question (for trimming under a word limit).

    Sentences giving what the kind of question wants (a price for a price question — the
    ``question_focus`` rules of ``_retrieval.yaml``) come first, then shared words.
    """
    asked = _stems(question)
    wanted = [rule for rule in focus if rule.asked(question)]
    ranks = []
    for index, sentence in enumerate(sentences):
        focus_bonus = 3.0 if any(rule.answered_by(sentence) for rule in wanted) else 0.0
        ranks.append(focus_bonus + len(asked & _stems(sentence)) - 0.01 * index)
    return ranks


@register("respond.template")
class TemplateResponder:
    """Template reply by action + knowledge-base answers + follow-up + directives."""

    Config = TemplateResponderConfig
    reads = frozenset({"action", "text", "conv.state", "conv.collected_data", "conv.used_variants", "conv.extra"})
    writes = frozenset({"response", "template_id", "reply_plan", "conv.used_variants", "conv.extra"})

    def __init__(self, config: TemplateResponderConfig, resources: Any) -> None:
        self.config = config
        bundle = resources.bundle
        self.templates: dict[str, list[str]] = bundle.section("templates") or {}
        self.composition: Composition = bundle.section("composition") or Composition()
        self.kb = bundle.section("knowledge") if config.knowledge_key else None
        retrieval = bundle.section("knowledge_retrieval") if config.knowledge_key else None
        self.focus = list(retrieval.question_focus) if retrieval is not None else []
        optional = (config.intent_key, config.knowledge_key, config.directives_key, config.tone_key)
        self.reads = type(self).reads | frozenset(key for key in optional if key)

    def _flag(self, ctx: NodeContext, name: str) -> bool:
        return bool(ctx.flags.get(name, True))

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        config, composition = self.config, self.composition
        requested = state.get("action") or composition.fallback_action
        action = requested if requested in self.templates else composition.fallback_action
        intent = str(state.get(config.intent_key) or "") if config.intent_key else ""
        knowledge = (state.get(config.knowledge_key) or {}) if config.knowledge_key else {}
        dialogue_state = state.get("conv.state") or ""
        memory = ReplyMemory.from_extra(state.get("conv.extra"))
        builder = _Builder(self.templates, composition, seed=ctx.seed, vary=self._flag(ctx, config.variations_flag),
                           slots=dict(state.get("conv.collected_data") or {}), used=state.get("conv.used_variants") or {}, memory=memory)
        builder.focus = self.focus
        section = self._section(knowledge)
        unmet = list(knowledge.get("unmet_focus") or []) if isinstance(knowledge, Mapping) else []
        if unmet:
            # The best section cannot give what this kind of question wants (a price, a
            # term): the action's own template answers better than an off-target section.
            section = None
        score = float(knowledge.get("score") or 0.0) if isinstance(knowledge, Mapping) else 0.0
        asks = action in composition.question_actions or composition.question_intents.match(intent)
        is_question = bool(knowledge.get("is_question")) if isinstance(knowledge, Mapping) else False
        if section is not None and asks and score >= composition.answer_min_score and (is_question or score >= composition.composite_min_score):
            mode = "answer"
        elif section is not None and is_question and score >= composition.composite_min_score and action not in composition.composite_skip_actions:
            mode = "composite"
        else:
            mode = "template"
        followup = composition.followups.get(dialogue_state)
        lead = composition.prefix_actions.get(action)
        if mode == "template":
            if builder.template(action, "body") is None:
                builder.parts.append(ReplyPart("body", _LAST_RESORT, "last_resort"))
            asks_already = bool(builder.parts) and builder.parts[-1].text.rstrip().endswith("?")
            if action in composition.question_actions and followup and followup != action and not asks_already:
                builder.template(followup, "question")
        else:
            if lead:
                builder.template(lead, "prefix")
            builder.answer(section, str(state.get("text") or ""))
            if lead or action in composition.question_actions or action == composition.fallback_action:
                if followup:
                    builder.template(followup, "question")
            else:
                builder.template(action, "question")
        builder.drop_repeats()
        plan = collect_directives(state.get(config.directives_key) if config.directives_key else None,
                                  state.get(config.tone_key) if config.tone_key else None,
                                  default_brevity_words=composition.brevity_default_words)
        parts = builder.parts
        if not plan.empty and self._flag(ctx, config.directives_flag):
            parts = shape(parts, plan, composition.directive_phrases, seed=ctx.seed, memory=memory)
        text = " ".join(part.text for part in parts).strip() or _LAST_RESORT
        memory.remember(text)
        if mode != "template" and section is not None and section.id not in memory.answered:
            memory.answered.append(section.id)
        template_id = "+".join(part.source for part in parts if not part.source.startswith("directive:")) or "last_resort"
        return {
            "response": text,
            "template_id": template_id,
            "reply_plan": {
                "mode": mode,
                "action": action,
                "requested_action": requested,
                "missing_template": requested if requested != action else None,
                "kb_section": section.id if section is not None and mode != "template" else None,
                "kb_rejected": f"unmet_focus: {', '.join(unmet)}" if unmet else None,
                "parts": [{"kind": part.kind, "source": part.source} for part in parts],
                "directives": plan.as_dict() if not plan.empty or plan.ignored else None,
            },
            "conv.used_variants": builder.used,
            "conv.extra": memory.to_extra(state.get("conv.extra")),
        }

    def _section(self, knowledge: Any) -> Any:
        if self.kb is None or not isinstance(knowledge, Mapping):
            return None
        section_id = knowledge.get("section_id")
        return self.kb.get(section_id) if section_id else None
