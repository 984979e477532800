"""Prompt templates for LLM reply generation: ``yaml_config/templates/prompts/<flow>.yaml``.

One file per flow, with a default system/user prompt, a per-state instruction, model
options and the output checks (Cyrillic share, length, numbers and promises that must be
backed by the template answer or the knowledge base). Section ``reply_prompts``:
flow name → ``ReplyPrompt``.
"""
from __future__ import annotations

import string
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, section, validate_model

__all__ = ["ReplyPrompt", "OutputChecks", "load_reply_prompts", "PROMPT_SLOTS"]

#: Slots a prompt may use; anything else is a load error.
PROMPT_SLOTS = frozenset({"state", "goal", "instruction", "message", "draft", "facts", "directives", "max_words", "flow"})


class OutputChecks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_cyrillic_share: float = Field(default=0.6, ge=0, le=1, description="share of letters that must be Cyrillic")
    min_chars: int = Field(default=10, ge=1)
    max_chars: int = Field(default=700, ge=20)
    max_length_ratio: float = Field(default=1.8, gt=0, description="reply may be at most this many times the draft's length")
    promise_stems: list[str] = Field(default_factory=list, description="stems of promises allowed only when the sources contain them")
    forbidden: list[str] = Field(default_factory=list, description="phrases never allowed")


class StatePrompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instruction: str
    goal: str = ""


class ReplyPrompt(BaseModel):
    """The whole prompt file of one flow."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    flow: str
    system: str
    user: str
    default_instruction: str = ""
    states: dict[str, StatePrompt] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)
    checks: OutputChecks = OutputChecks()

    @field_validator("system", "user")
    @classmethod
    def _known_slots(cls, text: str) -> str:
        try:
            names = {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name}
        except ValueError as exc:
            raise ValueError(f"bad {{slot}} syntax: {exc}. Write literal braces as {{{{ and }}}}") from exc
        unknown = sorted(names - PROMPT_SLOTS)
        if unknown:
            raise ValueError(f"unknown slots {unknown}; use {sorted(PROMPT_SLOTS)}")
        return text

    def instruction_for(self, state: str) -> tuple[str, str]:
        spec = self.states.get(state)
        return (spec.instruction, spec.goal) if spec else (self.default_instruction, "")


@section("reply_prompts")
def load_reply_prompts(bundle: ConfigBundle) -> dict[str, ReplyPrompt]:
    prompts: dict[str, ReplyPrompt] = {}
    for doc in bundle.glob("yaml_config/templates/prompts/*.yaml"):
        parsed, issues = validate_model(doc, ReplyPrompt)
        bundle.add(issues)
        if parsed is None:
            continue
        if parsed.flow in prompts:
            bundle.add([doc.issue(("flow",), f"flow '{parsed.flow}' has two prompt files", "Keep one file per flow")])
            continue
        prompts[parsed.flow] = parsed
    return prompts
