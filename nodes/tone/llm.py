"""``tone.llm``: tier 3 of the tone cascade — an Ollama model names the tone (flag ``tone_llm``).

Runs only when the tiers before are unsure. Asks the shared ``llm`` resource for a structured
answer whose ``tone`` must be one of the catalogue's tones (prompt in
``yaml_config/tone/llm.yaml``, section ``tone_llm``). On any failure — server down, timeout,
bad JSON, a tone outside the enum, breaker open, even a bug here — the lower tier's answer
stands and ``tone.tiers.llm.reason`` says why. Marked nondeterministic: replay reuses the
recorded output.
"""
from __future__ import annotations

import string
import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from engine.config import ConfigBundle, section, validate_model
from engine.errors import ConfigIssue
from engine.llm import LLMError
from engine.node import NodeConfig, NodeContext
from engine.registry import register, suggest
from nodes.tone.catalogue import CATALOGUE_FILE, ToneCatalogue, cannot_start, tone_value

__all__ = ["LLMTone", "LLMToneConfig", "ToneAnswer", "TonePrompt", "PROMPT_FILE", "build_tone_schema"]

PROMPT_FILE = "yaml_config/tone/llm.yaml"
SYSTEM_PLACEHOLDERS = ("tones",)
USER_PLACEHOLDERS = ("text", "message", "last_bot_message", "current_tone", "current_confidence", "current_tier", "markers")


class TonePrompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    empty_value: str = "—"
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict, description="Ollama model options (num_ctx, …)")


class ToneAnswer(BaseModel):
    """The structured answer; ``tone`` is narrowed to the catalogue by ``build_tone_schema``."""

    tone: str
    confidence: float = Field(ge=0, le=1, description="уверенность от 0 до 1")
    reasoning: str = Field(default="", description="одно короткое предложение, почему")


def build_tone_schema(tones: list[str]) -> type[ToneAnswer]:
    tone_type: Any = Literal[tuple(tones)]  # type: ignore[valid-type]
    return create_model("ToneAnswer", __base__=ToneAnswer, tone=(tone_type, Field(description="тон сообщения клиента")))


class LLMToneConfig(NodeConfig):
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="an LLM answer below this leaves the lower tier's answer")
    timeout_s: float | None = Field(default=None, gt=0, description="per-attempt timeout; default settings.llm.timeout_s")
    max_text_chars: int = Field(default=600, ge=16, description="longer messages are cut before prompting")


@register("tone.llm")
class LLMTone:
    """Structured-output tone classification, only when the lower tiers are unsure."""

    Config = LLMToneConfig
    reads = frozenset({"message", "text", "tone", "conv.last_bot_message"})
    writes = frozenset({"tone"})
    nondeterministic = True

    def __init__(self, config: LLMToneConfig, resources: Any) -> None:
        self.config = config
        self._resources = resources
        catalogue: ToneCatalogue | None = resources.bundle.section("tone_catalogue")
        prompt: TonePrompt | None = resources.bundle.section("tone_llm")
        if catalogue is None:
            raise cannot_start(resources.bundle, "tone.llm", CATALOGUE_FILE, "the tone catalogue")
        if prompt is None:
            raise cannot_start(resources.bundle, "tone.llm", PROMPT_FILE, "its prompt file")
        self.catalogue = catalogue
        self.prompt = prompt
        self.schema = build_tone_schema(catalogue.names)
        listing = "\n".join(f"- {name} — {spec.description}" for name, spec in catalogue.tones.items())
        self.system_text = prompt.system.format(tones=listing)

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        before = dict(state.get("tone") or {})
        tiers = dict(before.get("tiers") or {})
        message = str(state.get("message") or "").strip()
        if before and not self.catalogue.unsure(before):
            return self._keep(before, tiers, {"used": False, "failed": False, "reason": "lower_tier_confident", "status": None})
        if not message:
            return self._keep(before, tiers, {"used": False, "failed": False, "reason": "empty_message", "status": None})
        started = time.perf_counter()
        try:
            client = self._resources.get("llm")
            messages = [{"role": "system", "content": self.system_text}, {"role": "user", "content": self._user_text(state, before, message)}]
            answer = client.structured(messages, self.schema, options=self.prompt.options, timeout_s=self.config.timeout_s)
        except LLMError as exc:
            return self._keep(before, tiers, {"used": False, "failed": True, "reason": exc.reason, "status": exc.status, "detail": exc.detail[:300], "attempts": exc.attempts, "latency_ms": _ms(started)})
        except Exception as exc:  # noqa: BLE001 - a bug here must not cost the turn its tone
            return self._keep(before, tiers, {"used": False, "failed": True, "reason": "node_error", "status": None, "detail": f"{type(exc).__name__}: {exc}"[:300], "attempts": 0, "latency_ms": _ms(started)})
        entry = {
            "used": True,
            "failed": False,
            "reason": None,
            "status": None,
            "label": answer.tone,
            "confidence": round(float(answer.confidence), 4),
            "reasoning": answer.reasoning.strip()[:300],
            "model": getattr(getattr(client, "settings", None), "model", ""),
            "latency_ms": _ms(started),
        }
        if answer.confidence < self.config.min_confidence:
            entry.update(used=False, reason="low_confidence")
            return self._keep(before, tiers, entry)
        tiers["llm"] = entry
        return {"tone": tone_value(self.catalogue, label=answer.tone, confidence=answer.confidence, tier="llm", scores={answer.tone: answer.confidence}, markers=before.get("markers") or [], tiers=tiers)}

    def _keep(self, before: dict[str, Any], tiers: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        tiers["llm"] = entry
        if before:
            return {"tone": {**before, "tiers": tiers}}
        return {"tone": tone_value(self.catalogue, label=self.catalogue.default_tone, confidence=0.0, tier="none", scores={}, tiers=tiers)}

    def _user_text(self, state: Mapping[str, Any], before: Mapping[str, Any], message: str) -> str:
        empty = self.prompt.empty_value
        markers = ", ".join(f"{item.get('match')}→{item.get('tone')}" for item in before.get("markers") or [] if item.get("weight")) or empty
        confidence = before.get("confidence")
        values = {
            "text": str(state.get("text") or "")[: self.config.max_text_chars] or empty,
            "message": message[: self.config.max_text_chars],
            "last_bot_message": str(state.get("conv.last_bot_message") or "") or empty,
            "current_tone": before.get("label") or empty,
            "current_confidence": f"{confidence:.2f}" if isinstance(confidence, (int, float)) else empty,
            "current_tier": before.get("tier") or empty,
            "markers": markers,
        }
        return self.prompt.user.format(**values).strip()


def _placeholder_issues(doc: Any, key: str, template: str, allowed: tuple[str, ...]) -> list[ConfigIssue]:
    issues = []
    try:
        names = [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [doc.issue((key,), f"bad template: {exc}", "Write placeholders as {name}; double literal braces: {{ }}")]
    for name in names:
        if name not in allowed:
            issues.append(doc.issue((key,), f"unknown placeholder '{{{name}}}'", suggest(name, allowed) or f"Use one of: {', '.join('{' + a + '}' for a in allowed)}"))
    return issues


@section("tone_llm")
def load_tone_prompt(bundle: ConfigBundle) -> TonePrompt | None:
    """Load and check the prompt file; absent → None (only graphs using tone.llm need it)."""
    doc = bundle.file(PROMPT_FILE)
    if doc is None:
        return None
    spec, issues = validate_model(doc, TonePrompt)
    bundle.add(issues)
    if spec is None:
        return None
    problems = _placeholder_issues(doc, "system", spec.system, SYSTEM_PLACEHOLDERS) + _placeholder_issues(doc, "user", spec.user, USER_PLACEHOLDERS)
    if "{message}" not in spec.user and "{text}" not in spec.user:
        problems.append(doc.issue(("user",), "the user template never shows the client's message", "Add {message}"))
    if "{tones}" not in spec.system:
        problems.append(doc.issue(("system",), "the system template never lists the tones", "Add {tones}"))
    bundle.add(problems)
    return spec if not problems else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
