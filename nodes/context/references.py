"""Names one config file uses but another defines (intents, categories, actions, flags).

Flow and rule loaders collect ``Reference``s while parsing; their ``@check``s resolve them
all at once against the taxonomy, the templates and the feature flags, so a misspelt name
fails ``spinflow validate`` with ``file:line`` and a "Did you mean" hint.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.config import ConfigBundle
from engine.errors import ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml

__all__ = ["Reference", "check_references", "known_actions"]


@dataclass(frozen=True)
class Reference:
    """A name defined in another section, as written in a dialogue file."""

    kind: str  # intent | category | action | flag
    name: str
    doc: LoadedYaml
    loc: tuple[str | int, ...]
    key: bool = False


def known_actions(bundle: ConfigBundle) -> set[str] | None:
    """Actions that have reply templates (None when the templates section is unusable)."""
    templates: Any = bundle.section("templates")
    if not templates:
        return None
    if isinstance(templates, dict):
        return set(templates)
    actions = getattr(templates, "actions", None)
    return set(actions) if actions is not None else None


def check_references(bundle: ConfigBundle, references: Iterable[Reference]) -> Iterator[ConfigIssue]:
    taxonomy = bundle.section("intents")
    vocabularies: dict[str, tuple[set[str] | None, str]] = {
        "intent": (set(taxonomy.intents) if taxonomy is not None and len(taxonomy.intents) > 1 else None, "Define it under yaml_config/intents/ or fix the name"),
        "category": (set(taxonomy.categories) if taxonomy is not None and len(taxonomy.intents) > 1 else None, "Use a category of yaml_config/intents/ (or _composed.yaml)"),
        "action": (known_actions(bundle), "Add a template for it in yaml_config/templates/responses.yaml"),
        "flag": (set(bundle.settings.feature_flags), "Declare it in yaml_config/settings.yaml under feature_flags"),
    }
    categories = vocabularies["category"][0] or set()
    intents = vocabularies["intent"][0] or set()
    for reference in references:
        known, fix = vocabularies[reference.kind]
        if known is None or reference.name in known:
            continue
        if reference.kind == "intent" and reference.name in categories:
            fix = f"'{reference.name}' is a category; list it under a category key (categories / category_transitions / category_rules)"
        elif reference.kind == "category" and reference.name in intents:
            fix = f"'{reference.name}' is an intent; list it under an intent key (intents / transitions / rules)"
        else:
            fix = suggest(reference.name, known) or fix
        yield reference.doc.issue(reference.loc, f"unknown {reference.kind} '{reference.name}'", fix, key=reference.key)
