"""The scripted-dialogue file format (``evals/dialogues/*.yaml``): models, loading, name checks.

A file holds ``version: 1`` and ``dialogues:``; each dialogue has an ``id``, a ``persona``,
``turns`` (``client`` text plus optional ``expect``) and an optional ``outcome``. Files are
loaded with the config machinery, so every problem of every file is reported at once as
``file:line: path: problem. fix``; names of intents, states and actions are checked against
the config under test (a typo in an expectation is an error, not a silent failure).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, validate_model
from engine.errors import ConfigError, ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml, load_yaml

__all__ = [
    "OneOrMany",
    "Expect",
    "Outcome",
    "TurnSpec",
    "DialogueSpec",
    "DialogueFile",
    "Dialogue",
    "DialogueSuite",
    "load_suite",
    "check_names",
    "as_tuple",
    "NO_TIER",
]

#: ``tier: none`` expects that no fallback tier was used on the turn.
NO_TIER = "none"

OneOrMany = str | list[str]


def as_tuple(value: OneOrMany | None) -> tuple[str, ...]:
    """``"a"`` → ``("a",)``, ``["a", "b"]`` → ``("a", "b")``, None → ``()``."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _non_empty(value: OneOrMany | None) -> OneOrMany | None:
    if value is None:
        return None
    items = as_tuple(value)
    if not items:
        raise ValueError("empty list; give at least one value or drop the key")
    if any(not item.strip() for item in items):
        raise ValueError("empty string; give a value or drop the key")
    return value


class Expect(_Strict):
    """What must hold after one turn. A string or a list means "any of these"."""

    intent: OneOrMany | None = Field(None, description="the turn's final intent")
    state: OneOrMany | None = Field(None, description="the conversation state after the turn")
    action: OneOrMany | None = Field(None, description="the action the bot answered with")
    contains: OneOrMany | None = Field(None, description="the reply contains one of these (case-insensitive)")
    not_contains: OneOrMany | None = Field(None, description="the reply contains none of these (case-insensitive)")
    tier: OneOrMany | None = Field(None, description="fallback tier used ('none': no fallback)")

    @field_validator("intent", "state", "action", "contains", "not_contains", "tier")
    @classmethod
    def _values(cls, value: OneOrMany | None) -> OneOrMany | None:
        return _non_empty(value)


class Outcome(_Strict):
    """What must hold for the whole dialogue."""

    reaches: OneOrMany | None = Field(None, description="every listed state is visited")
    final_state: OneOrMany | None = Field(None, description="the state after the last turn (any of these)")
    max_turns_in_state: int | None = Field(None, ge=1, description="no state is held for more consecutive turns")

    @field_validator("reaches", "final_state")
    @classmethod
    def _values(cls, value: OneOrMany | None) -> OneOrMany | None:
        return _non_empty(value)


class TurnSpec(_Strict):
    client: str = Field(description="the client's message (Russian)")
    expect: Expect | None = None
    note: str = ""

    @field_validator("client", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        # YAML reads 87014445566 as a number (and 0777 as octal): the text is lost, so ask for quotes.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"YAML read this message as the number {value!r}; quote it: client: \"…\"")
        return value


class DialogueSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    persona: str = Field(min_length=1)
    description: str = ""
    turns: list[TurnSpec] = Field(min_length=1)
    outcome: Outcome | None = None


class DialogueFile(_Strict):
    version: Literal[1] = 1
    dialogues: list[DialogueSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Dialogue:
    """One dialogue plus where it was written (for ``file:line`` in failure reports)."""

    spec: DialogueSpec
    file: str
    line: int
    turn_lines: tuple[int, ...]

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def conversation_id(self) -> str:
        # Derived from the id only, so seeds (and replies) do not depend on the worker.
        return f"eval-{self.spec.id}"


@dataclass
class DialogueSuite:
    """Every dialogue of a file or folder, in load order, with the issues found."""

    dialogues: list[Dialogue] = field(default_factory=list)
    issues: list[ConfigIssue] = field(default_factory=list)
    docs: dict[str, LoadedYaml] = field(default_factory=dict)
    locations: dict[str, tuple[LoadedYaml, int]] = field(default_factory=dict)  # id → (doc, index)

    def raise_if_invalid(self) -> None:
        if self.issues:
            raise ConfigError(self.issues)

    @property
    def turns(self) -> int:
        return sum(len(dialogue.spec.turns) for dialogue in self.dialogues)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))
    return [path]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_suite(paths: Iterable[str | Path]) -> DialogueSuite:
    """Load dialogue files (a file or a folder of ``*.yaml``, searched recursively)."""
    suite = DialogueSuite()
    seen: dict[str, str] = {}
    for given in paths:
        root = Path(given)
        if not root.exists():
            suite.issues.append(ConfigIssue(str(root), 0, "", "no such file or folder", "Check the path"))
            continue
        files = _files(root)
        if not files:
            suite.issues.append(ConfigIssue(str(root), 0, "", "no *.yaml dialogue files in this folder", "Point at a dialogue file or a folder of them"))
        for path in files:
            doc, issues = load_yaml(path, shown_as=_shown(path))
            suite.issues.extend(issues)
            if doc is None:
                continue
            suite.docs[doc.file] = doc
            parsed, issues = validate_model(doc, DialogueFile)
            suite.issues.extend(issues)
            if parsed is None:
                continue
            for index, spec in enumerate(parsed.dialogues):
                loc: tuple[str | int, ...] = ("dialogues", index)
                if spec.id in seen:
                    suite.issues.append(doc.issue(loc + ("id",), f"dialogue id '{spec.id}' is used twice (first at {seen[spec.id]})", "Give every dialogue a unique id"))
                    continue
                line = doc.line_of(loc + ("id",))
                seen[spec.id] = f"{doc.file}:{line}"
                turn_lines = tuple(doc.line_of(loc + ("turns", number, "client")) for number in range(len(spec.turns)))
                suite.dialogues.append(Dialogue(spec, doc.file, line, turn_lines))
                suite.locations[spec.id] = (doc, index)
    return suite


# ------------------------------------------------------------------ names vs the config


def config_names(bundle: ConfigBundle) -> dict[str, set[str]]:
    """Intents, states and actions the config under test knows (a kind is absent if unknown).

    Read defensively: the sections belong to other node families and may change shape.
    """
    names: dict[str, set[str]] = {}
    taxonomy = bundle.section("intents")
    intents = getattr(taxonomy, "intents", None)
    if isinstance(intents, Mapping):
        names["intent"] = set(intents) | {"unclear"}
    flow = _active_flow(bundle)
    states = getattr(flow, "states", None)
    if isinstance(states, Mapping) and states:
        names["state"] = set(states)
    actions = set(_flow_actions(flow))
    templates = bundle.section("templates")
    if isinstance(templates, Mapping):
        actions |= {str(name) for name in templates}
    if actions:
        names["action"] = actions
    return names


def _active_flow(bundle: ConfigBundle) -> Any:
    flows = bundle.section("flows")
    if isinstance(flows, Mapping):
        return flows.get(bundle.settings.flow)
    return None


def _flow_actions(flow: Any) -> Iterable[str]:
    if flow is None:
        return
    moves: list[Any] = list((getattr(flow, "any_state", None) or {}).values())
    moves += list((getattr(flow, "interventions", None) or {}).values())
    for state in (getattr(flow, "states", None) or {}).values():
        on_enter = getattr(state, "on_enter", None)
        on_enter = getattr(on_enter, "action", on_enter)
        if isinstance(on_enter, str):
            yield on_enter
        for attribute in ("rules", "category_rules", "transitions", "category_transitions"):
            moves += list((getattr(state, attribute, None) or {}).values())
        moves.append(getattr(state, "default", None))
    for move in moves:
        action = getattr(move, "action", None)
        if isinstance(action, str):
            yield action


def check_names(suite: DialogueSuite, bundle: ConfigBundle) -> list[ConfigIssue]:
    """Every intent, state and action an expectation names exists in the config."""
    known = config_names(bundle)
    issues: list[ConfigIssue] = []

    def check(doc: LoadedYaml, loc: tuple[str | int, ...], kind: str, value: OneOrMany | None) -> None:
        if kind not in known or value is None:
            return
        for position, name in enumerate(as_tuple(value)):
            if name not in known[kind]:
                where = loc if isinstance(value, str) else loc + (position,)
                hint = suggest(name, known[kind]) or f"Use a {kind} the config defines"
                issues.append(doc.issue(where, f"unknown {kind} '{name}'", hint))

    for dialogue in suite.dialogues:
        doc, index = suite.locations[dialogue.id]
        base: tuple[str | int, ...] = ("dialogues", index)
        for number, turn in enumerate(dialogue.spec.turns):
            if turn.expect is None:
                continue
            loc = base + ("turns", number, "expect")
            for kind in ("intent", "state", "action"):
                check(doc, loc + (kind,), kind, getattr(turn.expect, kind))
        outcome = dialogue.spec.outcome
        if outcome is not None:
            check(doc, base + ("outcome", "reaches"), "state", outcome.reaches)
            check(doc, base + ("outcome", "final_state"), "state", outcome.final_state)
    return issues
