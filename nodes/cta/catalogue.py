"""The call-to-action catalogue: ``yaml_config/cta.yaml`` (section ``cta``).

Two kinds of CTA, both data:
- **state CTAs** — a sentence offered in given dialogue states (``states: [presentation]``);
- **dynamic CTAs** — options chosen by what the client told us (a competitor mentioned, the
  pain category), each with a priority, as in the brief's ``DYNAMIC_CTA_OPTIONS``.

Conditions are declarative (``field`` + ``present`` / ``equals`` / ``in``), never code.
Gates (minimum turn, frustration, early states, contact collected, backing-off actions) are
settings of the same file.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import ConfigBundle, section
from engine.errors import ConfigIssue
from nodes.respond.variations import fill_slots

__all__ = ["Condition", "StateCta", "DynamicCta", "CtaCatalogue", "CtaOption", "load_cta", "dynamic_options", "CTA_FILE"]

CTA_FILE = "yaml_config/cta.yaml"


class Condition(BaseModel):
    """True when collected data field ``field`` is present / equals a value / is one of values."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    present: bool | None = None
    equals: str | int | float | None = None
    in_: list[str] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [self.present is not None, self.equals is not None, self.in_ is not None]
        if sum(tests) != 1:
            raise ValueError("give exactly one of present, equals, in")
        return self

    def holds(self, data: Mapping[str, Any]) -> bool:
        value = data.get(self.field)
        given = value not in (None, "", [], {}, False)
        if self.present is not None:
            return given == self.present
        if self.equals is not None:
            return given and str(value) == str(self.equals)
        values = value if isinstance(value, (list, tuple)) else [value]
        return given and any(str(item) in (self.in_ or []) for item in values)


class StateCta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    text: str
    states: list[str]
    priority: int = Field(default=5, ge=0, le=100)


class DynamicCta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    when: list[Condition] = Field(description="all must hold")
    options: list[str] = Field(min_length=1)
    priority: int = Field(default=5, ge=0, le=100)
    states: list[str] = Field(default_factory=list, description="empty: any state where CTAs are allowed")

    @model_validator(mode="before")
    @classmethod
    def _single_condition(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("when"), dict):
            value = {**value, "when": [value["when"]]}
        return value


class CtaCatalogue(BaseModel):
    """The whole ``cta.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    min_turn: int = Field(default=3, ge=1, description="no CTA before this turn")
    max_frustration: float = Field(default=5, ge=0, le=10, description="blocked when conv.frustration ≥ this")
    early_states: list[str] = Field(default_factory=list)
    contact_fields: list[str] = Field(default_factory=lambda: ["contact_info", "phone", "email"])
    backoff_actions: list[str] = Field(default_factory=list, description="a reply that backs off (soft close, apology) gets no CTA")
    skip_when_reply_asks: bool = True
    state_ctas: list[StateCta] = Field(default_factory=list)
    dynamic: list[DynamicCta] = Field(default_factory=list)
    slot_labels: dict[str, dict[str, str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class CtaOption:
    id: str
    text: str
    priority: int
    source: str  # state | dynamic


def dynamic_options(catalogue: CtaCatalogue, data: Mapping[str, Any], state: str, used: set[str]) -> list[CtaOption]:
    """Dynamic CTA sentences whose conditions hold, unused, highest priority first."""
    options: list[CtaOption] = []
    for item in catalogue.dynamic:
        if item.states and state not in item.states:
            continue
        if not all(condition.holds(data) for condition in item.when):
            continue
        for index, template in enumerate(item.options):
            option_id = f"{item.id}#{index}"
            if option_id in used:
                continue
            text = fill_slots(template, data, catalogue.slot_labels)
            if text is not None:
                options.append(CtaOption(option_id, text, item.priority, "dynamic"))
    return sorted(options, key=lambda option: -option.priority)


def state_options(catalogue: CtaCatalogue, state: str, used: set[str]) -> list[CtaOption]:
    options = [CtaOption(item.id, item.text, item.priority, "state") for item in catalogue.state_ctas if state in item.states and item.id not in used]
    return sorted(options, key=lambda option: -option.priority)


@section("cta")
def load_cta(bundle: ConfigBundle) -> CtaCatalogue:
    loaded = bundle.optional_model(CTA_FILE, CtaCatalogue)
    if loaded is None:
        return CtaCatalogue()
    doc, parsed = loaded
    problems: list[ConfigIssue] = []
    seen: dict[str, tuple[str | int, ...]] = {}
    named: list[tuple[str, int, str]] = [("state_ctas", index, item.id) for index, item in enumerate(parsed.state_ctas)]
    named += [("dynamic", index, item.id) for index, item in enumerate(parsed.dynamic)]
    for kind, index, cta_id in named:
        if cta_id in seen:
            problems.append(doc.issue((kind, index, "id"), f"duplicate CTA id '{cta_id}'", "Give every CTA a unique id"))
        seen[cta_id] = (kind, index)
    for index, item in enumerate(parsed.state_ctas):
        early = sorted(set(item.states) & set(parsed.early_states))
        if early:
            problems.append(doc.issue(("state_ctas", index, "states"), f"CTA '{item.id}' is offered in early states {early}, where CTAs are never shown", "Remove those states or take them out of early_states"))
    bundle.add(problems)
    return parsed
