"""Refinement config as data (section ``refinement``): ``yaml_config/refinement/*.yaml``.

* ``pipeline.yaml`` — every layer's priority (CRITICAL 100 > HIGH 75 > NORMAL 50 > LOW 25 >
  FALLBACK 0) and feature flag, plus the master flag;
* ``<layer>.yaml`` — one file per layer, validated by the pydantic model that layer's module
  registers with :func:`layer_model` (markers, thresholds, option words, phase → intent maps);
* ``_answers.yaml`` — vocabulary several layers share (ordinals, option-answer fillers).

Intent and category names inside these files are typed :data:`IntentName` /
:data:`CategoryName`; the taxonomy's ``intent_references`` check and the
``refinement_categories`` check report misspellings with file:line. The
``refinement_order`` check makes sure every graph runs ``refine.*`` nodes in priority order.
"""
from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, Regex, check, section, validate_model
from engine.errors import ConfigIssue
from engine.registry import suggest
from engine.yaml_loader import LoadedYaml
from nodes.classify.taxonomy import IntentReference, intent_reference_source

__all__ = [
    "PRIORITIES",
    "IntentName",
    "CategoryName",
    "Regex",
    "LayerModel",
    "LayerEntry",
    "PipelineFile",
    "AnswersFile",
    "RefinementConfig",
    "layer_model",
    "load_refinement",
    "REFINEMENT_DIR",
]

REFINEMENT_DIR = "yaml_config/refinement"
PRIORITIES: dict[str, int] = {"CRITICAL": 100, "HIGH": 75, "NORMAL": 50, "LOW": 25, "FALLBACK": 0}


class _IntentMarker:
    """Annotation marker: this string names an intent of the taxonomy."""


class _CategoryMarker:
    """Annotation marker: this string names an intent category (base or composed)."""


IntentName = Annotated[str, _IntentMarker]
CategoryName = Annotated[str, _CategoryMarker]


class LayerModel(BaseModel):
    """Base of every layer file model: frozen, extra keys forbidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    description: str = ""
    overridable_layers: list[str] = Field(
        default_factory=lambda: ["confidence_calibration"],
        description="earlier layers whose refinement this layer may still change; any other earlier refinement makes it skip",
    )


class LayerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    priority: Literal["CRITICAL", "HIGH", "NORMAL", "LOW", "FALLBACK"]
    feature_flag: str | None = Field(None, description="the layer runs only when this flag is on")
    enabled: bool = True
    description: str = ""

    @property
    def priority_value(self) -> int:
        return PRIORITIES[self.priority]


class PipelineFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    master_flag: str = Field("refinement_pipeline", description="every layer is skipped when this flag is off")
    layers: dict[str, LayerEntry]


class AnswersFile(BaseModel):
    """``_answers.yaml``: how a client names one of several options."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    ordinals: dict[int, list[Regex]] = Field(default_factory=dict, description="option number → words that name it (regex, whole word)")
    last_option: list[Regex] = Field(default_factory=list, description="words that name the last option («последний»)")
    fillers: list[str] = Field(default_factory=list, description="words ignored around an option answer («вариант», «давайте»)")
    max_words: int = Field(4, ge=1, le=10, description="longer messages are never read as a bare option answer")


M = TypeVar("M", bound=LayerModel)
_MODELS: dict[str, type[LayerModel]] = {}


def layer_model(name: str) -> Callable[[type[M]], type[M]]:
    """Register the pydantic model of ``yaml_config/refinement/<name>.yaml``."""

    def decorate(model: type[M]) -> type[M]:
        _MODELS[name] = model
        return model

    return decorate


@dataclass
class RefinementConfig:
    """Everything under ``yaml_config/refinement/``, validated."""

    pipeline: PipelineFile
    answers: AnswersFile
    layers: dict[str, LayerModel] = field(default_factory=dict)
    docs: dict[str, LoadedYaml] = field(default_factory=dict)

    def layer(self, name: str) -> LayerModel:
        """The validated file of a layer, or its model's defaults when there is no file."""
        if name in self.layers:
            return self.layers[name]
        return _MODELS[name]() if name in _MODELS else LayerModel()


@section("refinement")
def load_refinement(bundle: ConfigBundle) -> RefinementConfig:
    """Load and validate every file of ``yaml_config/refinement/``."""
    import nodes.refine  # noqa: F401  (layer modules register their file models on import)

    pipeline: PipelineFile | None = None
    answers = AnswersFile()
    layers: dict[str, LayerModel] = {}
    docs: dict[str, LoadedYaml] = {}
    for doc in bundle.glob(f"{REFINEMENT_DIR}/*.yaml"):
        stem = doc.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        docs[stem] = doc
        if stem == "pipeline":
            pipeline, issues = validate_model(doc, PipelineFile)
            bundle.add(issues)
        elif stem == "_answers":
            parsed, issues = validate_model(doc, AnswersFile)
            bundle.add(issues)
            answers = parsed or answers
        elif stem in _MODELS:
            parsed_layer, issues = validate_model(doc, _MODELS[stem])
            bundle.add(issues)
            if parsed_layer is not None:
                layers[stem] = parsed_layer
        else:
            hint = suggest(stem, list(_MODELS) + ["pipeline", "_answers"]) or f"Name it after a layer: {', '.join(sorted(_MODELS))}"
            bundle.add([ConfigIssue(doc.file, 1, "", f"unknown refinement file '{stem}.yaml'", hint)])
    if pipeline is None:
        if "pipeline" not in docs:
            bundle.add([ConfigIssue(f"{REFINEMENT_DIR}/pipeline.yaml", 0, "", "file is missing", "Create it: layers with priority and feature_flag")])
        pipeline = PipelineFile(layers={})
    else:
        _check_pipeline(bundle, docs["pipeline"], pipeline)
    return RefinementConfig(pipeline, answers, layers, docs)


def _check_pipeline(bundle: ConfigBundle, doc: LoadedYaml, pipeline: PipelineFile) -> None:
    flags = bundle.settings.feature_flags
    names = [pipeline.master_flag] + [entry.feature_flag for entry in pipeline.layers.values() if entry.feature_flag]
    locs: list[tuple[str | int, ...]] = [("master_flag",)] + [("layers", name, "feature_flag") for name, entry in pipeline.layers.items() if entry.feature_flag]
    for flag, loc in zip(names, locs, strict=True):
        if flag not in flags:
            bundle.add([doc.issue(loc, f"unknown flag '{flag}'", suggest(flag, flags) or "Declare it in yaml_config/settings.yaml under feature_flags")])
    from engine.registry import iter_registry

    known = {getattr(cls, "layer", "") for name, cls in iter_registry() if name.startswith("refine.")} - {""}
    for name in pipeline.layers:
        if name not in known:
            bundle.add([doc.issue(("layers", name), f"unknown layer '{name}'", suggest(name, known) or f"Known layers: {', '.join(sorted(known))}", key=True)])


# -- references: intents and categories named in layer files ----------------------------------

def _marked(annotation: Any, marker: type) -> bool:
    return typing.get_origin(annotation) is Annotated and marker in typing.get_args(annotation)[1:]


def _walk(annotation: Any, data: Any, loc: tuple[str | int, ...], marker: type, key: bool = False) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """Yield (loc, value, is_key) for every string in ``data`` typed with ``marker``."""
    if _marked(annotation, marker):
        if isinstance(data, str):
            yield loc, data, key
        return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        yield from _walk(args[0], data, loc, marker, key)
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _walk(arg, data, loc, marker, key)
    elif origin in (list, tuple, set, frozenset) and isinstance(data, list) and args:
        for index, item in enumerate(data):
            yield from _walk(args[0], item, loc + (index,), marker)
    elif origin is dict and isinstance(data, dict) and len(args) == 2:
        for name, value in data.items():
            if _marked(args[0], marker):
                yield loc + (str(name),), str(name), True
            yield from _walk(args[1], value, loc + (str(name),), marker)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(data, dict):
        for name, info in annotation.model_fields.items():
            if name in data:
                inner = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
                yield from _walk(inner, data[name], loc + (name,), marker)


def _references(bundle: ConfigBundle, marker: type) -> Iterator[tuple[LoadedYaml, tuple[str | int, ...], str, bool]]:
    import nodes.refine  # noqa: F401

    for doc in bundle.glob(f"{REFINEMENT_DIR}/*.yaml"):
        stem = doc.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        model = _MODELS.get(stem)
        if model is not None and isinstance(doc.data, dict):
            for loc, value, is_key in _walk(model, doc.data, (), marker):
                yield doc, loc, value, is_key


@intent_reference_source("refinement")
def _intent_references(bundle: ConfigBundle) -> Iterator[IntentReference]:
    for doc, loc, value, is_key in _references(bundle, _IntentMarker):
        yield IntentReference(doc, loc, value, key=is_key)


@check("refinement_categories")
def check_categories(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    """Every intent category named in a layer file exists (base or composed)."""
    taxonomy = bundle.section("intents")
    if taxonomy is None or not taxonomy.categories:
        return
    for doc, loc, value, is_key in _references(bundle, _CategoryMarker):
        if value not in taxonomy.categories:
            yield doc.issue(loc, f"unknown intent category '{value}'", suggest(value, taxonomy.categories) or "Use a category of yaml_config/intents/", key=is_key)


@check("refinement_order")
def check_order(bundle: ConfigBundle) -> Iterator[ConfigIssue]:
    """In every graph, a refine node never runs before one of higher priority."""
    from engine.registry import get_node_class, registered_names

    config: RefinementConfig | None = bundle.section("refinement")
    if config is None:
        return
    known = set(registered_names())
    for doc in bundle.glob("graphs/*.yaml"):
        nodes = doc.data.get("nodes") if isinstance(doc.data, dict) else None
        if not isinstance(nodes, dict):
            continue
        dag: nx.DiGraph = nx.DiGraph()
        priority: dict[str, tuple[int, str]] = {}
        for node_id, spec in nodes.items():
            if not isinstance(spec, dict):
                continue
            dag.add_node(node_id)
            for parent in spec.get("after") or []:
                if isinstance(parent, str):
                    dag.add_edge(parent, node_id)
            kind = spec.get("type")
            if isinstance(kind, str) and kind.startswith("refine.") and kind in known:
                layer = getattr(get_node_class(kind), "layer", None)
                entry = config.pipeline.layers.get(layer) if layer else None
                if entry is not None:
                    priority[node_id] = (entry.priority_value, entry.priority)
        if not nx.is_directed_acyclic_graph(dag):
            continue  # the graph loader reports the cycle
        for node_id, (value, label) in priority.items():
            for ancestor in nx.ancestors(dag, node_id):
                if ancestor in priority and priority[ancestor][0] < value:
                    yield doc.issue(
                        ("nodes", node_id, "after"),
                        f"refine node '{node_id}' ({label} {value}) runs after '{ancestor}' ({priority[ancestor][1]} {priority[ancestor][0]})",
                        "Order refine nodes by priority: CRITICAL before HIGH before NORMAL",
                    )
