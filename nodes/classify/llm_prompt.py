"""The LLM classifier's prompt (section ``llm_classifier``) and its answer schema.

``yaml_config/llm/classifier.yaml`` holds the Russian system and user texts with
``{placeholders}``, category descriptions, critical rules and few-shot examples. The
intent list is never copied there: the prompt lists the taxonomy's intents, and
:func:`build_answer_schema` turns the same list into the ``Literal`` of the structured
output's ``intent`` field, so the model cannot answer an intent the taxonomy lacks.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from engine.config import ConfigBundle, check, section, validate_model
from engine.errors import ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml
from nodes.classify.taxonomy import IntentReference, Taxonomy, intent_reference_source

__all__ = [
    "ClassifierPrompt",
    "ClassifierPromptFile",
    "PromptRule",
    "FewShot",
    "IntentAnswer",
    "SYSTEM_PLACEHOLDERS",
    "USER_PLACEHOLDERS",
    "build_answer_schema",
    "load_classifier_prompt",
]

PROMPT_FILE = "yaml_config/llm/classifier.yaml"
SYSTEM_PLACEHOLDERS = frozenset({"categories", "rules", "examples", "intent_count"})
USER_PLACEHOLDERS = frozenset(
    {"text", "state", "state_goal", "spin_phase", "last_action", "last_bot_message", "last_intent", "turn_index", "cascade_intent", "cascade_confidence"}
)
# ``{name}`` with an identifier inside; JSON braces such as {"intent": …} never match.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FEW_SHOT_CONTEXT = {"state": "состояние", "spin_phase": "фаза", "last_action": "действие бота", "last_bot_message": "бот спросил", "turn_index": "ход"}


class PromptRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    intents: list[str] = Field(default_factory=list, description="intents the rule distinguishes (checked against the taxonomy)")
    text: str = Field(min_length=1)


class FewShot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    message: str = Field(min_length=1)
    intent: str
    context: dict[str, str | int] = Field(default_factory=dict)


class ClassifierPromptFile(BaseModel):
    """The schema of ``yaml_config/llm/classifier.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)
    empty_value: str = "—"
    intent_detail: Literal["names", "descriptions"] = "names"
    options: dict[str, Any] = Field(default_factory=dict, description="Ollama model options for this prompt")
    think: bool | None = Field(None, description="Ollama's think flag; false for reasoning models (qwen3), unset otherwise")
    spin_phases: dict[str, str] = Field(default_factory=dict, description="flow state → SPIN phase")
    categories: dict[str, str] = Field(default_factory=dict, description="taxonomy category → description shown to the model")
    rules: list[PromptRule] = Field(default_factory=list)
    few_shot: list[FewShot] = Field(default_factory=list)


class ClassifierPrompt:
    """A validated prompt file plus where it came from (for cross-file checks)."""

    def __init__(self, spec: ClassifierPromptFile, doc: LoadedYaml) -> None:
        self.spec = spec
        self.doc = doc

    def system_text(self, taxonomy: Taxonomy) -> str:
        """The system message for this taxonomy (built once per node)."""
        values = {
            "categories": self._categories(taxonomy),
            "rules": "\n".join(f"- {rule.text.strip()}" for rule in self.spec.rules),
            "examples": "\n".join(self._example(shot) for shot in self.spec.few_shot),
            "intent_count": str(len(taxonomy.intents)),
        }
        return _fill(self.spec.system, values).strip()

    def user_text(self, values: Mapping[str, Any]) -> str:
        """The user message: the client's text in its dialogue context."""
        shown = {}
        for name in USER_PLACEHOLDERS:
            value = values.get(name)
            shown[name] = self.spec.empty_value if value is None or value == "" else str(value)
        return _fill(self.spec.user, shown).strip()

    def spin_phase(self, state: str) -> str:
        return self.spec.spin_phases.get(state, "")

    def _categories(self, taxonomy: Taxonomy) -> str:
        by_category: dict[str, list[str]] = {}
        for name in taxonomy.names:
            by_category.setdefault(taxonomy.intents[name].category, []).append(name)
        ordered = [name for name in self.spec.categories if name in by_category]
        ordered += sorted(name for name in by_category if name not in self.spec.categories)
        blocks = []
        for category in ordered:
            description = self.spec.categories.get(category) or taxonomy.category_descriptions.get(category, "")
            header = f"{category} — {description.strip()}" if description else category
            if self.spec.intent_detail == "descriptions":
                lines = [f"  - {name}: {taxonomy.intents[name].description.strip()}" for name in by_category[category]]
                blocks.append("\n".join([header, *lines]))
            else:
                blocks.append(f"{header}\n  {', '.join(by_category[category])}")
        return "\n".join(blocks)

    @staticmethod
    def _example(shot: FewShot) -> str:
        context = "; ".join(f"{_FEW_SHOT_CONTEXT.get(key, key)}: {value}" for key, value in shot.context.items())
        return f"«{shot.message}»{f' ({context})' if context else ''} → {shot.intent}"


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


class IntentAnswer(BaseModel):
    """The answer's shape; :func:`build_answer_schema` narrows ``intent`` to the taxonomy.

    ``secondary_intents`` stay plain strings (the node drops unknown ones) so the JSON
    schema carries the long enum once. Every field is required: constrained generation
    then always produces the same shape.
    """

    model_config = ConfigDict(extra="ignore")
    intent: str = Field(description="главное намерение клиента")
    confidence: float = Field(ge=0, le=1, description="уверенность от 0 до 1")
    secondary_intents: list[str] = Field(max_length=5, description="дополнительные намерения составного сообщения")
    reasoning: str = Field(description="короткое объяснение по-русски")


def build_answer_schema(intents: Sequence[str]) -> type[IntentAnswer]:
    """The structured-output model: ``intent`` is a ``Literal`` over the taxonomy's intents."""
    intent_type: Any = Literal[tuple(intents)]  # type: ignore[valid-type]
    return create_model("IntentAnswer", __base__=IntentAnswer, intent=(intent_type, Field(description="главное намерение клиента")))


@section("llm_classifier")
def load_classifier_prompt(bundle: ConfigBundle) -> ClassifierPrompt | None:
    """Load and check the prompt file; absent → None (only graphs using classify.llm need it)."""
    doc = bundle.file(PROMPT_FILE)
    if doc is None:
        return None
    spec, issues = validate_model(doc, ClassifierPromptFile)
    bundle.add(issues)
    if spec is None:
        return None
    bundle.add(_placeholder_issues(doc, "system", spec.system, SYSTEM_PLACEHOLDERS))
    bundle.add(_placeholder_issues(doc, "user", spec.user, USER_PLACEHOLDERS))
    if "{text}" not in spec.user:
        bundle.add([doc.issue(("user",), "the user template never shows the client's message", "Add {text}")])
    if "{categories}" not in spec.system:
        bundle.add([doc.issue(("system",), "the system template never lists the intents", "Add {categories}")])
    seen: dict[str, int] = {}
    for index, rule in enumerate(spec.rules):
        if rule.id in seen:
            bundle.add([doc.issue(("rules", index, "id"), f"rule id '{rule.id}' repeats rules[{seen[rule.id]}]", "Give every rule its own id")])
        seen.setdefault(rule.id, index)
    for index, shot in enumerate(spec.few_shot):
        for key in shot.context:
            if key not in _FEW_SHOT_CONTEXT:
                bundle.add([doc.issue(("few_shot", index, "context", key), f"unknown context key '{key}'", suggest(key, _FEW_SHOT_CONTEXT) or f"Use one of: {', '.join(_FEW_SHOT_CONTEXT)}", key=True)])
    return ClassifierPrompt(spec, doc)


def _placeholder_issues(doc: LoadedYaml, field: str, template: str, allowed: frozenset[str]) -> list[ConfigIssue]:
    issues = []
    for name in sorted({match.group(1) for match in _PLACEHOLDER.finditer(template)} - allowed):
        hint = suggest(name, allowed) or f"Use one of: {', '.join(sorted(allowed))}"
        issues.append(doc.issue((field,), f"unknown placeholder '{{{name}}}'", hint))
    return issues


@intent_reference_source("llm_classifier")
def _prompt_intent_references(bundle: ConfigBundle) -> Iterator[IntentReference]:
    """Intents named by the prompt's rules and few-shot examples."""
    prompt: ClassifierPrompt | None = bundle.section("llm_classifier")
    if prompt is None:
        return
    for index, rule in enumerate(prompt.spec.rules):
        for position, intent in enumerate(rule.intents):
            yield IntentReference(prompt.doc, ("rules", index, "intents", position), intent)
    for index, shot in enumerate(prompt.spec.few_shot):
        yield IntentReference(prompt.doc, ("few_shot", index, "intent"), shot.intent)


@check("llm_classifier_prompt")
def check_classifier_prompt(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    """Categories named in the prompt exist in the taxonomy; SPIN-phase states exist in a flow."""
    prompt: ClassifierPrompt | None = bundle.section("llm_classifier")
    if prompt is None:
        return
    taxonomy: Taxonomy | None = bundle.section("intents")
    if taxonomy is not None and len(taxonomy.intents) > 1:
        for category in prompt.spec.categories:
            if category not in taxonomy.base_categories:
                hint = suggest(category, taxonomy.base_categories) or "Use a category of yaml_config/intents/"
                yield prompt.doc.issue(("categories", category), f"unknown category '{category}'", hint, key=True)
    flows = bundle.section("flows") or {}
    states = {name for flow in flows.values() for name in flow.states}
    if states:
        for state in prompt.spec.spin_phases:
            if state not in states:
                yield prompt.doc.issue(("spin_phases", state), f"unknown flow state '{state}'", suggest(state, states) or "Use a state of yaml_config/flows/", key=True)
