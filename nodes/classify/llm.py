"""``classify.llm``: an Ollama model re-classifies the message; the cascade's answer is the floor.

Runs after the cascade (flag ``llm_classifier``). It asks the shared ``llm`` resource for a
structured answer whose ``intent`` must be one of the taxonomy's intents, and on success
replaces ``intent``/``intent_confidence``. On any failure — server down, timeout, bad
JSON, an intent outside the enum, breaker open, even a bug here — the cascade's answer
stands unchanged and ``classification.llm.reason`` says why, so a turn never waits on or
dies with the LLM. Marked nondeterministic: replay reuses the recorded output.

``classification.llm.reason`` is None when the LLM's answer was used, one of
``engine.llm.REASONS`` when the call failed, or a node-level code: ``empty_message``,
``cascade_confident`` (skipped, see ``skip_if_cascade_at_least``), ``low_confidence``
(answered below ``min_confidence``) and ``node_error`` (a bug while building the request).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from engine.errors import ConfigError, ConfigIssue
from engine.llm import LLMClient, LLMError
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.classify.llm_prompt import PROMPT_FILE, ClassifierPrompt, IntentAnswer, build_answer_schema
from nodes.classify.taxonomy import Taxonomy

__all__ = ["LLMClassifier", "LLMClassifierConfig"]

_REASONING_CHARS = 300


class LLMClassifierConfig(NodeConfig):
    read_from: Literal["text", "message"] = Field("text", description="what the model reads: the normalised text or the raw client message")
    min_confidence: float = Field(0.0, ge=0, le=1, description="an LLM answer below this leaves the cascade's answer")
    skip_if_cascade_at_least: float | None = Field(None, ge=0, le=1, description="do not call the LLM when the cascade is this confident")
    timeout_s: float | None = Field(None, gt=0, description="per-attempt timeout; default settings.llm.timeout_s")
    max_text_chars: int = Field(1000, ge=16, description="longer messages are cut before prompting")


@register("classify.llm")
class LLMClassifier:
    """Structured-output intent classification with the cascade as fallback."""

    Config = LLMClassifierConfig
    reads = frozenset(
        {"text", "dialogue_context", "turn_index", "intent", "intent_confidence", "classification", "conv.state", "conv.last_action", "conv.last_bot_message", "conv.last_intent"}
    )
    _CONTEXT_READS = reads - {"text"}
    writes = frozenset({"intent", "intent_confidence", "classification"})
    nondeterministic = True

    def __init__(self, config: LLMClassifierConfig, resources: Any) -> None:
        self.config = config
        self.reads = self._CONTEXT_READS | {config.read_from}
        self._resources = resources
        taxonomy: Taxonomy | None = resources.bundle.section("intents")
        prompt: ClassifierPrompt | None = resources.bundle.section("llm_classifier")
        if prompt is None:
            if resources.bundle.file(PROMPT_FILE) is None:
                raise ConfigError([ConfigIssue(PROMPT_FILE, 0, "", "classify.llm needs its prompt file", "Create it (copy the shipped one)")])
            raise ConfigError([ConfigIssue(PROMPT_FILE, 0, "", "classify.llm cannot start: its prompt file is invalid", "Fix the problems reported for this file")])
        if taxonomy is None or not taxonomy.intents:
            raise ConfigError([ConfigIssue("yaml_config/intents", 0, "", "classify.llm needs the intent taxonomy", "Add yaml_config/intents/<category>.yaml files")])
        self.taxonomy = taxonomy
        self.prompt = prompt
        self.schema = build_answer_schema(taxonomy.names)
        self.system_text = prompt.system_text(taxonomy)
        flows = resources.bundle.section("flows") or {}
        self._goals = {name: spec.goal for flow in flows.values() for name, spec in flow.states.items()}

    @property
    def client(self) -> LLMClient:
        # Resolved on first use, so `spinflow validate` never builds an HTTP client.
        return self._resources.get("llm")

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        cascade_intent = state.get("intent")
        cascade_confidence = state.get("intent_confidence")
        classification = dict(state.get("classification") or {})
        kept = {"intent": cascade_intent, "intent_confidence": cascade_confidence} if cascade_intent is not None else {}
        cascade = {"intent": cascade_intent, "confidence": cascade_confidence, "stage": classification.get("stage")}
        text = (state.get(self.config.read_from) or "").strip()
        threshold = self.config.skip_if_cascade_at_least
        if not text:
            return {**kept, "classification": {**classification, "llm": _skipped("empty_message", cascade)}}
        if threshold is not None and isinstance(cascade_confidence, (int, float)) and cascade_confidence >= threshold:
            return {**kept, "classification": {**classification, "llm": _skipped("cascade_confident", cascade)}}
        started = time.perf_counter()
        try:
            self.client.raise_if_open()  # skip prompt rendering when the call cannot go out
            messages = [{"role": "system", "content": self.system_text}, {"role": "user", "content": self._user_text(state, text)}]
            answer: IntentAnswer = self.client.structured(messages, self.schema, options=self.prompt.spec.options, timeout_s=self.config.timeout_s, think=self.prompt.spec.think)
        except Exception as exc:  # noqa: BLE001 - LLMError, or a bug here: neither may cost the turn its intent
            error = exc if isinstance(exc, LLMError) else LLMError("node_error", f"{type(exc).__name__}: {exc}")
            failed = {"used": False, "failed": True, "reason": error.reason, "status": error.status, "detail": error.detail[:300], "attempts": error.attempts}
            return {**kept, "classification": {**classification, "llm": {**failed, "latency_ms": _ms(started), "cascade": cascade}}}
        secondary = [name for name in dict.fromkeys(answer.secondary_intents) if name in self.taxonomy.intents and name != answer.intent]
        dropped = [name for name in answer.secondary_intents if name not in self.taxonomy.intents]
        llm = {
            "used": True,
            "failed": False,
            "reason": None,
            "intent": answer.intent,
            "confidence": round(float(answer.confidence), 4),
            "secondary_intents": secondary,
            "dropped_secondary": dropped,
            "reasoning": answer.reasoning.strip()[:_REASONING_CHARS],
            "model": self.client.settings.model,
            "latency_ms": _ms(started),
            "cascade": cascade,
        }
        if answer.confidence < self.config.min_confidence:
            llm.update(used=False, reason="low_confidence")
            return {**kept, "classification": {**classification, "llm": llm}}
        return {
            "intent": answer.intent,
            "intent_confidence": round(float(answer.confidence), 4),
            "classification": {**classification, "stage": "llm", "llm": llm},
        }

    def _user_text(self, state: Mapping[str, Any], text: str) -> str:
        context = state.get("dialogue_context") or {}
        dialogue_state = context.get("state") or state.get("conv.state") or ""
        confidence = state.get("intent_confidence")
        values = {
            "text": text[: self.config.max_text_chars],
            "state": dialogue_state,
            "state_goal": context.get("state_goal") or self._goals.get(dialogue_state, ""),
            "spin_phase": context.get("spin_phase") or self.prompt.spin_phase(dialogue_state),
            "last_action": context.get("last_action") or state.get("conv.last_action") or "",
            "last_bot_message": context.get("last_bot_message") or state.get("conv.last_bot_message") or "",
            "last_intent": context.get("last_intent") or state.get("conv.last_intent") or "",
            "turn_index": context.get("turn_index") or state.get("turn_index") or "",
            "cascade_intent": state.get("intent") or "",
            "cascade_confidence": f"{confidence:.2f}" if isinstance(confidence, (int, float)) else "",
        }
        return self.prompt.user_text(values)


def _skipped(reason: str, cascade: Mapping[str, Any]) -> dict[str, Any]:
    return {"used": False, "failed": False, "reason": reason, "status": None, "attempts": 0, "latency_ms": 0.0, "cascade": dict(cascade)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
