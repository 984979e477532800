"""Knowledge base as data: ``yaml_config/knowledge/*.yaml`` loaded, validated and merged.

Files:
- ``<topic>.yaml`` — ``sections: [{id, title, keywords, questions, answer, facts, priority}]``;
- ``_company.yaml`` — ``company_facts``: short facts about Wipon (strings or ``{id, text}``),
  used by the fallback's second tier;
- ``_placeholders.yaml`` — values the data authors were unsure of, kept in one place;
- ``_retrieval.yaml`` — thresholds, field weights, stopwords and synonyms of the retriever
  (section ``knowledge_retrieval``, see ``nodes/knowledge/settings.py``).

Validation reports every problem with ``file:line``: duplicate section ids (naming the first
definition), empty answers, sections that no keyword or question could ever reach.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, section, validate_model
from engine.errors import ConfigIssue

__all__ = ["KnowledgeSection", "KnowledgeFile", "CompanyFact", "KnowledgeBase", "load_knowledge"]

_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")


class KnowledgeSection(BaseModel):
    """One answerable topic: how a client may ask about it and what the bot answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    keywords: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    answer: str
    facts: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=5, ge=0, le=10)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"section id {value!r} must be lowercase words joined by dots, like 'tariffs.mini'")
        return value

    @field_validator("keywords", "questions", mode="before")
    @classmethod
    def _as_text(cls, values: Any) -> Any:
        # «keywords: [wp930z, 910]» — YAML reads 910 as a number; a designer means the word.
        if isinstance(values, list):
            return [str(value).strip() if isinstance(value, (int, float)) and not isinstance(value, bool) else value for value in values]
        return values

    @field_validator("keywords", "questions")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return [value.strip() for value in values if value.strip()]


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    topic: str = ""
    description: str = ""
    sections: list[KnowledgeSection]


class CompanyFact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    text: str
    topic: str = ""


class _CompanyFile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    version: int = 1
    company_facts: list[CompanyFact | str] = Field(default_factory=list)


@dataclass(frozen=True)
class KnowledgeBase:
    """Every section (in file order), an id index, company facts and placeholders."""

    sections: tuple[KnowledgeSection, ...]
    topics: dict[str, str]  # section id → topic (file stem when the file names none)
    origins: dict[str, str]  # section id → "file:line"
    company_facts: tuple[CompanyFact, ...] = ()
    placeholders: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.sections})

    def get(self, section_id: str) -> KnowledgeSection | None:
        return self._by_id.get(section_id)  # type: ignore[attr-defined]

    def __contains__(self, section_id: object) -> bool:
        return section_id in self._by_id  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.sections)

    def ids(self) -> list[str]:
        return [item.id for item in self.sections]


@section("knowledge")
def load_knowledge(bundle: ConfigBundle) -> KnowledgeBase:
    """Load and check every knowledge file; problems go to the bundle, never raise."""
    sections: list[KnowledgeSection] = []
    topics: dict[str, str] = {}
    origins: dict[str, str] = {}
    first_seen: dict[str, tuple[str, int]] = {}
    issues: list[ConfigIssue] = []
    digest = hashlib.sha256()
    for doc in bundle.glob("yaml_config/knowledge/*.yaml"):
        stem = doc.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if stem.startswith("_"):
            continue
        digest.update(doc.text.encode())
        parsed, problems = validate_model(doc, KnowledgeFile)
        issues.extend(problems)
        if parsed is None:
            continue
        for index, item in enumerate(parsed.sections):
            where = ("sections", index)
            line = doc.line_of(where + ("id",))
            if item.id in first_seen:
                file, first_line = first_seen[item.id]
                issues.append(doc.issue(where + ("id",), f"duplicate section id '{item.id}' (first defined at {file}:{first_line})", "Give every section a unique id"))
                continue
            first_seen[item.id] = (doc.file, line)
            if not item.answer.strip():
                issues.append(doc.issue(where + ("answer",), "empty answer", "Write the answer the bot should give"))
                continue
            if not item.title.strip():
                issues.append(doc.issue(where + ("title",), "empty title", "Name the section in a few words"))
            if not item.keywords and not item.questions:
                issues.append(doc.issue(where, f"section '{item.id}' has neither keywords nor questions, so no question can reach it", "Add keywords or example questions"))
            sections.append(item)
            topics[item.id] = parsed.topic or stem
            origins[item.id] = f"{doc.file}:{line}"
    if not sections and not any(issue.file.startswith("yaml_config/knowledge/") for issue in issues + bundle.issues):
        issues.append(ConfigIssue("yaml_config/knowledge", 0, "sections", "the knowledge base is empty", "Add yaml_config/knowledge/<topic>.yaml with sections"))
    facts = _load_company_facts(bundle, issues)
    placeholders = _load_placeholders(bundle, set(first_seen) | {fact.id for fact in facts}, issues)
    bundle.add(issues)
    return KnowledgeBase(tuple(sections), topics, origins, facts, placeholders, digest.hexdigest()[:16])


def _load_company_facts(bundle: ConfigBundle, issues: list[ConfigIssue]) -> tuple[CompanyFact, ...]:
    doc = bundle.file("yaml_config/knowledge/_company.yaml")
    if doc is None:
        return ()
    parsed, problems = validate_model(doc, _CompanyFile)
    issues.extend(problems)
    if parsed is None:
        return ()
    facts: list[CompanyFact] = []
    seen: set[str] = set()
    for index, raw in enumerate(parsed.company_facts):
        fact = raw if isinstance(raw, CompanyFact) else CompanyFact(id=f"fact_{index + 1}", text=raw)
        if not fact.text.strip():
            issues.append(doc.issue(("company_facts", index), "empty company fact", "Write the fact or remove the entry"))
            continue
        if fact.id in seen:
            issues.append(doc.issue(("company_facts", index, "id"), f"duplicate company fact id '{fact.id}'", "Give every fact a unique id"))
            continue
        seen.add(fact.id)
        facts.append(fact)
    return tuple(facts)


def _load_placeholders(bundle: ConfigBundle, known: set[str], issues: list[ConfigIssue]) -> dict[str, Any]:
    """Doubtful values kept in one place: ``placeholders`` as a list of ``{key, value, used_in, note}``
    (or a mapping key → entry). Every ``used_in`` must name an existing section or company fact."""
    doc = bundle.file("yaml_config/knowledge/_placeholders.yaml")
    if doc is None or not isinstance(doc.data, dict):
        return {}
    body = doc.data.get("placeholders", {})
    entries: dict[str, Any] = {}
    items = list(body.items()) if isinstance(body, dict) else list(enumerate(body)) if isinstance(body, list) else []
    for position, raw in items:
        key = position if isinstance(position, str) else (raw.get("key") if isinstance(raw, dict) else None)
        if not isinstance(key, str):
            issues.append(doc.issue(("placeholders", position), "placeholder without a key", "Give it key: <name>"))
            continue
        entries[key] = raw
        used_in = raw.get("used_in") if isinstance(raw, dict) else None
        for index, section_id in enumerate(used_in or []):
            if known and section_id not in known:
                from engine.registry import suggest

                issues.append(doc.issue(("placeholders", position, "used_in", index), f"unknown section '{section_id}'", suggest(str(section_id), known) or "Use a section id or a company fact id"))
    return entries
