"""Reply templates and composition rules as data (sections ``templates`` and ``composition``).

- ``yaml_config/templates/responses*.yaml`` — ``templates: {action: [variants]}``, Russian,
  ``{slots}`` filled from collected data. Any number of files; an action lives in one file.
- ``yaml_config/templates/composition.yaml`` — how a reply is assembled: which actions and
  intents are answered from the knowledge base, the follow-up question per dialogue state
  (so a question mid-flow is answered *and* the flow keeps collecting data), short lead-ins
  when an action is combined with an answer, directive phrases, slot labels.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section, validate_model
from engine.errors import ConfigIssue
from engine.registry import suggest

__all__ = ["TemplatesFile", "Composition", "QuestionIntents", "load_templates", "load_composition", "COMPOSITION_FILE"]

COMPOSITION_FILE = "yaml_config/templates/composition.yaml"


class TemplatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    templates: dict[str, list[str]] = Field(description="action → reply variations (Russian)")


@section("templates")
def load_templates(bundle: ConfigBundle) -> dict[str, list[str]]:
    """Every action's variants from ``responses*.yaml`` (an action defined twice is an error)."""
    merged: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    for doc in bundle.glob("yaml_config/templates/responses*.yaml"):
        parsed, issues = validate_model(doc, TemplatesFile)
        bundle.add(issues)
        if parsed is None:
            continue
        for action, variants in parsed.templates.items():
            if not variants or not all(variant.strip() for variant in variants):
                bundle.add([doc.issue(("templates", action), "empty variation", "Give every variation some reply text")])
            if action in merged:
                bundle.add([doc.issue(("templates", action), f"action '{action}' also has templates in {origin[action]}", "Keep one definition", key=True)])
                continue
            origin[action] = doc.file
            merged[action] = [variant.strip() for variant in variants if variant.strip()]
    return merged


class QuestionIntents(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prefixes: list[str] = Field(default_factory=lambda: ["question_"])
    names: list[str] = Field(default_factory=list)

    def match(self, intent: str) -> bool:
        return intent in self.names or any(intent.startswith(prefix) for prefix in self.prefixes)


class Composition(BaseModel):
    """The whole ``composition.yaml`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    fallback_action: str = "fallback"
    question_actions: list[str] = Field(default_factory=list, description="actions answered from the knowledge base when a section is found")
    question_intents: QuestionIntents = QuestionIntents()
    answer_min_score: float = Field(default=0.45, ge=0, le=1, description="a question action uses the KB answer from this score")
    composite_min_score: float = Field(default=0.6, ge=0, le=1, description="a question inside another kind of message is answered from this score")
    composite_skip_actions: list[str] = Field(default_factory=list, description="actions never combined with a KB answer (soft close, handoff)")
    unknown_answer_action: str = "answer_unknown"
    repeat_answer: list[str] = Field(default_factory=list, description="variants for a section already answered; {title} slot")
    followups: dict[str, str] = Field(default_factory=dict, description="dialogue state → action whose template follows an answer")
    prefix_actions: dict[str, str] = Field(default_factory=dict, description="action → short action used as a lead-in when combined with an answer")
    directive_phrases: dict[str, list[str]] = Field(default_factory=dict)
    brevity_default_words: int = Field(default=40, ge=5)
    slot_labels: dict[str, dict[str, str]] = Field(default_factory=dict, description="slot → stored value → Russian words")


@section("composition")
def load_composition(bundle: ConfigBundle) -> Composition:
    """Load ``composition.yaml`` and check that every action it names has templates."""
    loaded = bundle.optional_model(COMPOSITION_FILE, Composition)
    if loaded is None:
        return Composition()
    doc, parsed = loaded
    templates = bundle.section("templates") or {}
    if not templates:
        return parsed
    problems: list[ConfigIssue] = []

    def need(action: str, loc: tuple[str | int, ...], key: bool = False) -> None:
        if action not in templates:
            problems.append(doc.issue(loc, f"no templates for action '{action}'", suggest(action, templates) or "Add it to yaml_config/templates/responses.yaml", key=key))

    need(parsed.fallback_action, ("fallback_action",))
    need(parsed.unknown_answer_action, ("unknown_answer_action",))
    for state, action in parsed.followups.items():
        need(action, ("followups", state))
    for action, short in parsed.prefix_actions.items():
        need(short, ("prefix_actions", action))
    for kind in parsed.directive_phrases:
        if kind not in ("apologize", "offer_exit"):
            problems.append(doc.issue(("directive_phrases", kind), f"unknown directive '{kind}'", "Use apologize or offer_exit", key=True))
    bundle.add(problems)
    return parsed
