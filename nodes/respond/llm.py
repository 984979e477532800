"""``respond.llm``: optional Ollama wording of the template reply, checked before it is used.

Runs after ``respond.template`` when the ``llm_generation`` flag is on. The prompt (per flow
and state, ``yaml_config/templates/prompts/<flow>.yaml``) carries the template draft, the
knowledge-base facts and the response directives; the model returns ``{"reply": …}``.
The reply is used only if it passes the checks: Russian, sane length, no number and no
promise that the draft or the knowledge base does not contain. On any LLM failure or failed
check the template reply stands and ``generation.reason`` says why. Marked nondeterministic:
replay reuses the recorded output.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from engine.errors import ConfigError, ConfigIssue
from engine.llm import LLMClient, LLMError
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.respond.prompts import OutputChecks, ReplyPrompt

__all__ = ["LLMResponder", "LLMResponderConfig", "GeneratedReply", "check_reply", "numbers_in"]

_NUMBER = re.compile(r"\d(?:[\d\u00a0\u202f ]*\d)?(?:[.,]\d+)?")
_LETTER = re.compile(r"[a-zа-яё]", re.IGNORECASE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


class GeneratedReply(BaseModel):
    """What the model must return (Ollama structured output)."""

    reply: str = Field(description="the reply to the client, in Russian")


def numbers_in(text: str) -> set[str]:
    """Numbers in ``text`` with spaces inside removed and decimal commas unified (150 000 → 150000)."""
    found = set()
    for match in _NUMBER.findall(text):
        value = re.sub(r"[\s\u00a0\u202f]", "", match).replace(",", ".")
        found.add(value.rstrip(".").lstrip("0") or "0")
    return found


def check_reply(reply: str, draft: str, sources: Iterable[str], checks: OutputChecks) -> str | None:
    """None when ``reply`` may be used; otherwise the reason it may not."""
    text = reply.strip()
    if len(text) < checks.min_chars:
        return "too_short"
    letters = _LETTER.findall(text)
    if not letters or len(_CYRILLIC.findall(text)) / len(letters) < checks.min_cyrillic_share:
        return "not_russian"
    if len(text) > checks.max_chars or len(text) > checks.max_length_ratio * max(len(draft), 40):
        return "too_long"
    lowered = text.lower()
    for phrase in checks.forbidden:
        if phrase.lower() in lowered:
            return f"forbidden_phrase: {phrase}"
    corpus = " ".join([draft, *sources])
    allowed = numbers_in(corpus)
    invented = sorted(numbers_in(text) - allowed)
    if invented:
        return f"unsupported_number: {', '.join(invented[:3])}"
    backing = corpus.lower()
    for stem in checks.promise_stems:
        if stem.lower() in lowered and stem.lower() not in backing:
            return f"unbacked_promise: {stem}"
    return None


class LLMResponderConfig(NodeConfig):
    text_key: str = "text"
    knowledge_key: str | None = "knowledge"
    directives_key: str | None = None
    tone_key: str | None = None
    skip_actions: list[str] = Field(default_factory=lambda: ["confirm_contact", "handoff"])
    timeout_s: float | None = Field(default=None, gt=0)


@register("respond.llm")
class LLMResponder:
    """Rephrases the template reply with an LLM; the template stands on any failure."""

    Config = LLMResponderConfig
    reads = frozenset({"response", "template_id", "reply_plan", "conv.state", "conv.flow"})
    writes = frozenset({"response", "generation"})
    nondeterministic = True

    def __init__(self, config: LLMResponderConfig, resources: Any) -> None:
        self.config = config
        self._resources = resources
        bundle = resources.bundle
        self.prompts: dict[str, ReplyPrompt] = bundle.section("reply_prompts") or {}
        if not self.prompts:
            raise ConfigError([ConfigIssue("yaml_config/templates/prompts", 0, "", "respond.llm needs a prompt file", "Add yaml_config/templates/prompts/<flow>.yaml")])
        self.default_flow = resources.settings.flow
        self.kb = bundle.section("knowledge") if config.knowledge_key else None
        optional = (config.text_key, config.knowledge_key, config.directives_key, config.tone_key)
        self.reads = type(self).reads | frozenset(key for key in optional if key)

    @property
    def client(self) -> LLMClient:
        return self._resources.get("llm")  # built on first use, never at validate time

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        draft = str(state.get("response") or "").strip()
        plan = state.get("reply_plan") or {}
        action = plan.get("action") if isinstance(plan, Mapping) else None
        if not draft:
            return {"generation": {"used": False, "reason": "empty_draft"}}
        if action in self.config.skip_actions:
            return {"generation": {"used": False, "reason": "skipped_action"}}
        flow = state.get("conv.flow") or self.default_flow
        prompt = self.prompts.get(flow) or self.prompts.get(self.default_flow) or next(iter(self.prompts.values()))
        dialogue_state = state.get("conv.state") or ""
        facts = self._facts(state)
        directives, max_words = self._directives(state, plan, draft)
        instruction, goal = prompt.instruction_for(dialogue_state)
        slots = {"state": dialogue_state or "—", "goal": goal or "—", "instruction": instruction or "—", "message": state.get(self.config.text_key) or "—",
                 "draft": draft, "facts": " ".join(facts) or "—", "directives": directives or "—", "max_words": max_words, "flow": flow}
        started = time.perf_counter()
        try:
            self.client.raise_if_open()
            messages = [{"role": "system", "content": prompt.system.format(**slots)}, {"role": "user", "content": prompt.user.format(**slots)}]
            answer: GeneratedReply = self.client.structured(messages, GeneratedReply, options=prompt.options, timeout_s=self.config.timeout_s or prompt.timeout_s)
        except LLMError as exc:
            return {"generation": {"used": False, "reason": f"llm_error: {exc.reason}", "detail": exc.detail[:200], "latency_ms": _ms(started)}}
        except Exception as exc:  # noqa: BLE001 - a bug here must not cost the turn its reply
            return {"generation": {"used": False, "reason": "node_error", "detail": f"{type(exc).__name__}: {exc}"[:200], "latency_ms": _ms(started)}}
        reply = " ".join(answer.reply.split())
        problem = check_reply(reply, draft, facts, prompt.checks)
        if problem is not None:
            return {"generation": {"used": False, "reason": f"check_failed: {problem}", "rejected": reply[:300], "latency_ms": _ms(started)}}
        return {"response": reply, "generation": {"used": True, "reason": None, "draft": draft, "model": self.client.settings.model, "latency_ms": _ms(started)}}

    def _facts(self, state: Mapping[str, Any]) -> list[str]:
        knowledge = state.get(self.config.knowledge_key) if self.config.knowledge_key else None
        if self.kb is None or not isinstance(knowledge, Mapping) or not knowledge.get("section_id"):
            return []
        section = self.kb.get(knowledge["section_id"])
        if section is None:
            return []
        facts = [section.answer.strip()]
        facts.extend(f"{key}: {value}" for key, value in section.facts.items())
        return facts

    def _directives(self, state: Mapping[str, Any], plan: Any, draft: str) -> tuple[str, int]:
        directives = plan.get("directives") if isinstance(plan, Mapping) else None
        words = len(draft.split())
        max_words = max(15, round(words * 1.3))
        notes: list[str] = []
        if isinstance(directives, Mapping):
            if directives.get("max_words"):
                max_words = min(max_words, int(directives["max_words"]))
                notes.append("будь краток")
            if directives.get("apologize"):
                notes.append("начни с короткого извинения")
            if directives.get("offer_exit"):
                notes.append("предложи клиенту возможность закончить разговор")
            if directives.get("tone_instruction"):
                notes.append(str(directives["tone_instruction"]))
        tone = state.get(self.config.tone_key) if self.config.tone_key else None
        if isinstance(tone, Mapping) and (tone.get("tone_instruction") or tone.get("instruction")):
            notes.append(str(tone.get("tone_instruction") or tone.get("instruction")))
        return "; ".join(dict.fromkeys(notes)), max_words


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
