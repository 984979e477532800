"""Intent taxonomy (section ``intents``): every intent, its category, examples and composed categories.

Files: ``yaml_config/intents/<category>.yaml`` (``category``, ``description``,
``intents: {name: {description, examples, also_in}}``) plus ``_composed.yaml`` (categories
built from other categories, intents and intent-name prefixes). Every other part of the
config that names an intent (patterns, roots, lemmas, flows, rules, …) is checked against
this taxonomy by the ``intent_references`` check; a node family that introduces a new
YAML file naming intents registers a source with :func:`intent_reference_source`.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, check, section, validate_model
from engine.errors import ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml

__all__ = [
    "IntentSpec",
    "Taxonomy",
    "load_taxonomy",
    "intent_reference_source",
    "intent_keys_of",
    "IntentReference",
    "MIN_EXAMPLES",
    "UNCLEAR",
]

MIN_EXAMPLES = 5
UNCLEAR = "unclear"
#: Category given to ``unclear`` when no taxonomy file lists it.
UNCLEAR_CATEGORY = "meta"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _IntentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    examples: list[str] = Field(default_factory=list)
    also_in: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list, description="other names of this intent (e.g. the original system's); a label written with an alias means this intent")


class _IntentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    category: str
    description: str = ""
    intents: dict[str, _IntentEntry]


class _ComposedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    include_categories: list[str] = Field(default_factory=list)
    include_intents: list[str] = Field(default_factory=list)
    include_prefixes: list[str] = Field(default_factory=list, description="every intent whose name starts with one of these")
    exclude_categories: list[str] = Field(default_factory=list)
    exclude_intents: list[str] = Field(default_factory=list)


class _ComposedFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    composed: dict[str, _ComposedEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class IntentSpec:
    """One intent as the taxonomy defines it."""

    name: str
    category: str
    description: str = ""
    examples: tuple[str, ...] = ()
    also_in: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    file: str = ""
    line: int = 0


@dataclass
class Taxonomy:
    """All intents and categories. ``categories`` maps base and composed names to members."""

    intents: dict[str, IntentSpec]
    categories: dict[str, frozenset[str]]
    base_categories: frozenset[str] = frozenset()
    composed_categories: frozenset[str] = frozenset()
    category_descriptions: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias → intent

    def canonical(self, name: str) -> str:
        """The intent ``name`` stands for: itself, or the intent that declares it as an alias."""
        return name if name in self.intents else self.aliases.get(name, name)

    @property
    def names(self) -> list[str]:
        """Every intent name, sorted."""
        return sorted(self.intents)

    def __contains__(self, intent: object) -> bool:
        return intent in self.intents

    def category_of(self, intent: str) -> str | None:
        """The base category an intent is defined in (None for an unknown intent)."""
        spec = self.intents.get(intent)
        return spec.category if spec is not None else None

    def in_category(self, intent: str, category: str) -> bool:
        """True if ``intent`` belongs to ``category`` (base, via also_in, or composed)."""
        members = self.categories.get(category)
        return members is not None and intent in members

    def examples(self) -> list[tuple[str, str]]:
        """(intent, example) pairs in a stable order (intent name, then file order)."""
        return [(name, example) for name in self.names for example in self.intents[name].examples]

    @property
    def examples_hash(self) -> str:
        """Content hash of every (intent, example) pair: keys caches built from examples."""
        digest = hashlib.sha256()
        for name, example in self.examples():
            digest.update(f"{name}\x1f{example}\x1e".encode())
        return digest.hexdigest()[:16]


@section("intents")
def load_taxonomy(bundle: ConfigBundle) -> Taxonomy:
    """Load every taxonomy file, resolve also_in and composed categories, collect problems."""
    intents: dict[str, IntentSpec] = {}
    members: dict[str, set[str]] = {}
    descriptions: dict[str, str] = {}
    also_in_refs: list[tuple[LoadedYaml, tuple[str | int, ...], str, str]] = []
    alias_refs: list[tuple[LoadedYaml, tuple[str | int, ...], str, str]] = []
    for doc in bundle.glob("yaml_config/intents/*.yaml"):
        if doc.file.rsplit("/", 1)[-1].startswith("_"):
            continue
        parsed, issues = validate_model(doc, _IntentFile)
        bundle.add(issues)
        if parsed is None:
            continue
        category = parsed.category
        if not _NAME.match(category):
            bundle.add([doc.issue(("category",), f"category name '{category}' is not snake_case", "Use lowercase letters, digits and _")])
        members.setdefault(category, set())
        if parsed.description:
            descriptions.setdefault(category, parsed.description)
        for name, entry in parsed.intents.items():
            loc: tuple[str | int, ...] = ("intents", name)
            if not _NAME.match(name):
                bundle.add([doc.issue(loc, f"intent name '{name}' is not snake_case", "Use lowercase letters, digits and _", key=True)])
            if name in intents:
                first = intents[name]
                bundle.add([doc.issue(loc, f"intent '{name}' is already defined in {first.file}:{first.line}", "Keep one definition; use also_in to list it in more categories", key=True)])
                continue
            examples = [example.strip() for example in entry.examples if example and example.strip()]
            if len(examples) < MIN_EXAMPLES:
                bundle.add([doc.issue(loc + ("examples",), f"intent '{name}' has {len(examples)} example(s), at least {MIN_EXAMPLES} are needed", "Add natural client phrasings in Russian")])
            intents[name] = IntentSpec(name, category, entry.description, tuple(examples), tuple(entry.also_in), tuple(entry.aliases), doc.file, doc.key_line(loc))
            members[category].add(name)
            for index, alias in enumerate(entry.aliases):
                alias_refs.append((doc, loc + ("aliases", index), alias, name))
            for index, other in enumerate(entry.also_in):
                also_in_refs.append((doc, loc + ("also_in", index), other, name))
    base = frozenset(members)
    for doc, loc, other, name in also_in_refs:
        if other not in base:
            bundle.add([doc.issue(loc, f"unknown category '{other}'", suggest(other, base) or f"Known categories: {', '.join(sorted(base))}")])
        else:
            members[other].add(name)
    if UNCLEAR not in intents:
        intents[UNCLEAR] = IntentSpec(UNCLEAR, UNCLEAR_CATEGORY, "The message could not be understood.")
        members.setdefault(UNCLEAR_CATEGORY, set()).add(UNCLEAR)
        base = base | {UNCLEAR_CATEGORY}
    aliases = _resolve_aliases(bundle, alias_refs, intents)
    categories = {name: frozenset(values) for name, values in members.items()}
    composed = _load_composed(bundle, intents, categories, base)
    categories.update(composed)
    return Taxonomy(intents, categories, base, frozenset(composed), descriptions, aliases)


def _resolve_aliases(bundle: ConfigBundle, refs: list[tuple[LoadedYaml, tuple[str | int, ...], str, str]], intents: dict[str, IntentSpec]) -> dict[str, str]:
    """alias → intent; an alias must be snake_case, not an intent's name, and declared once."""
    aliases: dict[str, str] = {}
    for doc, loc, alias, name in refs:
        if not _NAME.match(alias):
            bundle.add([doc.issue(loc, f"alias '{alias}' is not snake_case", "Use lowercase letters, digits and _")])
        elif alias in intents:
            bundle.add([doc.issue(loc, f"alias '{alias}' is the name of an intent ({intents[alias].file}:{intents[alias].line})", "Remove the alias or merge the two intents")])
        elif alias in aliases:
            bundle.add([doc.issue(loc, f"alias '{alias}' is already an alias of '{aliases[alias]}'", "Keep it on one intent")])
        else:
            aliases[alias] = name
    return aliases


def _load_composed(bundle: ConfigBundle, intents: dict[str, IntentSpec], categories: dict[str, frozenset[str]], base: frozenset[str]) -> dict[str, frozenset[str]]:
    loaded = bundle.optional_model("yaml_config/intents/_composed.yaml", _ComposedFile)
    if loaded is None:
        return {}
    doc, parsed = loaded
    known = base | frozenset(parsed.composed)
    for name in parsed.composed:
        if name in base:
            bundle.add([doc.issue(("composed", name), f"composed category '{name}' has the name of a base category", "Rename it", key=True)])
    for name, entry in parsed.composed.items():
        for key in ("include_categories", "exclude_categories"):
            for index, other in enumerate(getattr(entry, key)):
                if other not in known:
                    bundle.add([doc.issue(("composed", name, key, index), f"unknown category '{other}'", suggest(other, known) or f"Known categories: {', '.join(sorted(known))}")])
        for key in ("include_intents", "exclude_intents"):
            for index, intent in enumerate(getattr(entry, key)):
                if intent not in intents:
                    bundle.add([doc.issue(("composed", name, key, index), f"unknown intent '{intent}'", suggest(intent, intents) or "Define it under yaml_config/intents/")])
    resolved: dict[str, frozenset[str]] = {}
    visiting: set[str] = set()

    def resolve(name: str) -> frozenset[str]:
        if name in categories:
            return categories[name]
        if name in resolved:
            return resolved[name]
        if name not in parsed.composed:
            return frozenset()
        if name in visiting:
            bundle.add([doc.issue(("composed", name), f"composed category '{name}' includes itself through a cycle", "Remove one of the include_categories entries", key=True)])
            return frozenset()
        visiting.add(name)
        entry = parsed.composed[name]
        out: set[str] = set()
        for other in entry.include_categories:
            out |= resolve(other)
        out |= {intent for intent in entry.include_intents if intent in intents}
        if entry.include_prefixes:
            out |= {intent for intent in intents if intent.startswith(tuple(entry.include_prefixes))}
        for other in entry.exclude_categories:
            out -= resolve(other)
        out -= set(entry.exclude_intents)
        visiting.discard(name)
        resolved[name] = frozenset(out)
        return resolved[name]

    for name in parsed.composed:
        resolve(name)
    return resolved


# -- references to intents from other config files -------------------------------------------

@dataclass(frozen=True)
class IntentReference:
    """An intent name used somewhere in the config, with where it was written."""

    doc: LoadedYaml
    loc: tuple[str | int, ...]
    intent: str
    key: bool = False  # the name is a mapping key (report the key's line)


ReferenceSource = Callable[[ConfigBundle], Iterable[IntentReference]]
_SOURCES: dict[str, ReferenceSource] = {}


def intent_reference_source(name: str) -> Callable[[ReferenceSource], ReferenceSource]:
    """Register a function yielding every intent a family of YAML files names.

    Other node families (rules, refinement, …) use this so that a misspelt intent in their
    files fails ``spinflow validate`` with a "Did you mean" hint.
    """

    def decorate(function: ReferenceSource) -> ReferenceSource:
        _SOURCES[name] = function
        return function

    return decorate


def intent_keys_of(bundle: ConfigBundle, relative: str, mapping: str = "intents") -> Iterator[IntentReference]:
    """The keys of the top-level ``mapping`` of one file, as intent references."""
    doc = bundle.file(relative)
    intents = doc.data.get(mapping) if doc is not None and isinstance(doc.data, dict) else None
    if doc is not None and isinstance(intents, dict):
        for intent in intents:
            yield IntentReference(doc, (mapping, str(intent)), str(intent), key=True)


@check("intent_references")
def check_intent_references(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    """Every intent named anywhere in the config must exist in the taxonomy."""
    taxonomy: Taxonomy | None = bundle.section("intents")
    if taxonomy is None or len(taxonomy.intents) <= 1:
        return  # no taxonomy at all: its own loader already complained
    for source_name in sorted(_SOURCES):
        for reference in _SOURCES[source_name](bundle):
            if reference.intent not in taxonomy.intents:
                hint = suggest(reference.intent, taxonomy.intents) or "Define it under yaml_config/intents/ or fix the name"
                yield reference.doc.issue(reference.loc, f"unknown intent '{reference.intent}'", hint, key=reference.key)
