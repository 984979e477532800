"""Graph spec (YAML), validation and compilation into a fixed topological order."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import ConfigBundle, pydantic_issues, validate_lenient
from engine.errors import ConfigError, ConfigIssue
from engine.flags import WhenExpression, WhenSyntaxError, parse_when
from engine.registry import get_node_class, registered_names, suggest
from engine.resources import Resources
from engine.state import BASE_KEYS, CONVERSATION_KEYS
from engine.yaml_loader import LoadedYaml

__all__ = ["NodeSpec", "GraphSpec", "CompiledNode", "CompiledGraph", "compile_graph", "load_graph", "load_all_graphs", "graph_file"]


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    after: list[str] = Field(default_factory=list)
    when: str | None = None
    on_error: Literal["skip", "default", "fallback"] = "skip"
    default: dict[str, Any] = Field(default_factory=dict)


class GraphSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1]
    name: str = ""
    description: str = ""
    inputs: list[str] = Field(default_factory=list, description="extra keys the caller provides")
    nodes: dict[str, NodeSpec]


@dataclass(eq=False)
class CompiledNode:
    node_id: str
    type_name: str
    spec: NodeSpec
    instance: Any
    reads: frozenset[str]
    writes: frozenset[str]
    when: WhenExpression | None
    nondeterministic: bool


@dataclass(eq=False)
class CompiledGraph:
    name: str
    file: str
    spec: GraphSpec
    order: list[CompiledNode]
    dag: nx.DiGraph
    graph_hash: str
    config_hash: str
    resources: Resources
    bundle: ConfigBundle
    extra_inputs: frozenset[str] = field(default_factory=frozenset)

    def node(self, node_id: str) -> CompiledNode:
        for node in self.order:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)


def graph_file(bundle: ConfigBundle, name_or_path: str) -> Path:
    """Resolve ``turn``, ``turn.yaml``, ``graphs/turn.yaml`` or an absolute path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if candidate.is_absolute() and candidate.exists():
            return candidate
        for base in (bundle.root, bundle.root / "graphs", Path.cwd()):
            if (base / candidate).exists():
                return (base / candidate).resolve()
        return bundle.root / "graphs" / candidate.name
    return bundle.root / "graphs" / f"{name_or_path}.yaml"


def compile_graph(bundle: ConfigBundle, doc: LoadedYaml, resources: Resources | None = None) -> tuple[CompiledGraph | None, list[ConfigIssue]]:
    """Validate a graph document completely and build it. Returns (graph or None, issues)."""
    issues: list[ConfigIssue] = []
    raw = doc.data if isinstance(doc.data, dict) else {}
    raw_nodes = raw.get("nodes") if isinstance(raw.get("nodes"), dict) else {}
    # Validate node by node (dropping bad keys) so one bad node hides no other problem.
    node_specs: dict[str, NodeSpec] = {}
    for node_id, node_raw in raw_nodes.items():
        node_spec, node_issues = validate_lenient(doc, NodeSpec, node_raw if node_raw is not None else {}, ("nodes", node_id))
        issues.extend(node_issues)
        if node_spec is not None:
            node_specs[str(node_id)] = node_spec
    top, top_issues = validate_lenient(doc, GraphSpec, {**raw, "nodes": {}})
    issues.extend(top_issues)
    if top is None or not isinstance(raw.get("nodes"), dict):
        if not isinstance(raw.get("nodes"), dict) and "nodes" in raw:
            issues.append(doc.issue(("nodes",), "must be a mapping of node id to node", "Write nodes: {id: {type: ...}}"))
        return None, issues
    spec = top.model_copy(update={"nodes": node_specs})
    spec_invalid = bool(issues)
    resources = resources or Resources(bundle)
    flags = bundle.settings.feature_flags
    known = registered_names()
    dag: nx.DiGraph = nx.DiGraph()
    declared = list(spec.nodes)
    compiled: dict[str, CompiledNode] = {}
    for index, (node_id, node) in enumerate(spec.nodes.items()):
        dag.add_node(node_id, index=index)
        where = ("nodes", node_id)
        if node.type not in known:
            issues.extend(_type_issues(doc, node_id, node.type))
            continue
        cls = get_node_class(node.type)
        config = None
        try:
            config = cls.Config.model_validate(node.config)
        except ValidationError as exc:
            issues.extend(pydantic_issues(doc, exc, where + ("config",)))
        when = None
        if node.when is not None:
            try:
                when = parse_when(node.when)
            except WhenSyntaxError as exc:
                issues.append(doc.issue(where + ("when",), f"bad expression: {exc}", "Write flag names joined by and/or/not with parentheses"))
            else:
                for name in sorted(when.names):
                    if name not in flags:
                        issues.append(doc.issue(where + ("when",), f"unknown flag '{name}'", suggest(name, flags) or "Declare it in yaml_config/settings.yaml under feature_flags"))
        instance = None
        if config is not None:
            try:
                instance = cls(config, resources)
            except ConfigError as exc:
                issues.extend(exc.issues)
            except Exception as exc:  # a node that cannot start is a config problem of this graph
                issues.append(doc.issue(where + ("config",), f"node failed to initialise: {type(exc).__name__}: {exc}", "Check the node's config and the data files it uses"))
        reads = frozenset(getattr(instance, "reads", cls.reads))
        writes = frozenset(getattr(instance, "writes", cls.writes))
        for key in sorted(set(node.default) - writes):
            issues.append(doc.issue(where + ("default", key), f"default for '{key}', which node type {node.type} does not write", f"Use only its writes: {', '.join(sorted(writes))}", key=True))
        if node.default and node.on_error != "default":
            issues.append(doc.issue(where + ("default",), "default given but on_error is not 'default'", "Set on_error: default or remove default", key=True))
        if instance is not None:
            compiled[node_id] = CompiledNode(node_id, node.type, node, instance, reads, writes, when, bool(getattr(cls, "nondeterministic", False)))
    for node_id, node in spec.nodes.items():
        for position, parent in enumerate(node.after):
            if parent not in spec.nodes:
                issues.append(doc.issue(("nodes", node_id, "after", position), f"unknown node '{parent}'", suggest(parent, declared) or f"Known nodes: {', '.join(declared)}"))
            elif parent == node_id:
                issues.append(doc.issue(("nodes", node_id, "after", position), "node depends on itself", "Remove it from after"))
            else:
                dag.add_edge(parent, node_id)
    try:
        cycle = nx.find_cycle(dag)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        names = [edge[0] for edge in cycle] + [cycle[0][0]]
        first = cycle[0][1]
        issues.append(doc.issue(("nodes", first, "after"), f"dependency cycle: {' -> '.join(names)}", "Remove one of these after: entries"))
        return None, issues
    provided_base = BASE_KEYS | CONVERSATION_KEYS | frozenset(spec.inputs)
    uncompiled = set(spec.nodes) - set(compiled)
    for node_id, node in compiled.items():
        ancestors = nx.ancestors(dag, node_id)
        if ancestors & uncompiled:
            continue  # an upstream node is already reported broken; its writes are unknown
        available = set(provided_base)
        for ancestor in ancestors:
            if ancestor in compiled:
                available |= compiled[ancestor].writes
        for key in sorted(node.reads - available):
            writers = sorted(other for other, info in compiled.items() if key in info.writes and other != node_id)
            fix = f"Add after: [{writers[0]}]" if writers else "No node writes it; declare it in the graph's inputs or add a node that writes it"
            issues.append(doc.issue(("nodes", node_id, "type"), f"reads '{key}', which no upstream node writes", fix))
    writers_by_key: dict[str, list[str]] = {}
    for node_id, node in compiled.items():
        for key in node.writes:
            writers_by_key.setdefault(key, []).append(node_id)
    for key, writers in sorted(writers_by_key.items()):
        for i, first in enumerate(writers):
            for second in writers[i + 1:]:
                if not (nx.has_path(dag, first, second) or nx.has_path(dag, second, first)):
                    issues.append(doc.issue(("nodes", second, "after"), f"both '{first}' and '{second}' write '{key}' but neither runs after the other", f"Add '{first}' to after: of '{second}' (or the reverse)"))
    if issues or spec_invalid:
        return None, issues
    index = {name: position for position, name in enumerate(declared)}
    order = [compiled[name] for name in nx.lexicographical_topological_sort(dag, key=index.__getitem__)]
    graph_hash = hashlib.sha256(doc.text.encode()).hexdigest()[:16]
    graph = CompiledGraph(
        name=spec.name or Path(doc.file).stem,
        file=doc.file,
        spec=spec,
        order=order,
        dag=dag,
        graph_hash=graph_hash,
        config_hash=bundle.content_hash(),
        resources=resources,
        bundle=bundle,
        extra_inputs=frozenset(spec.inputs),
    )
    return graph, []


def _type_issues(doc: LoadedYaml, node_id: str, type_name: str) -> list[ConfigIssue]:
    if type_name in registered_names():
        return []
    hint = suggest(type_name, registered_names()) or "Run 'spinflow graph types' to list registered node types"
    return [doc.issue(("nodes", node_id, "type"), f"unknown node type '{type_name}'", hint)]


def load_graph(bundle: ConfigBundle, name_or_path: str | None = None) -> CompiledGraph:
    """Load, validate and compile one graph; raise ``ConfigError`` listing every problem.

    Problems anywhere in the config bundle (sections, checks) are included too, so a chat
    never starts on a config that ``spinflow validate`` would reject.
    """
    path = graph_file(bundle, name_or_path or bundle.settings.default_graph)
    issues = bundle.validate() if not bundle.issues else sorted(set(bundle.issues))
    doc = bundle.file(bundle.shown(path)) if path.is_relative_to(bundle.root) else None
    if doc is None and path.exists():
        from engine.yaml_loader import load_yaml

        doc, more = load_yaml(path)
        issues = list(issues) + more
    if doc is None:
        raise ConfigError(list(issues) + [ConfigIssue(str(path), 0, "", "graph file not found", f"Known graphs: {', '.join(sorted(p.stem for p in (bundle.root / 'graphs').glob('*.yaml')))}")])
    graph, graph_issues = _cached_compile(bundle, doc)
    all_issues = sorted(set(issues) | set(graph_issues))
    if all_issues or graph is None:
        raise ConfigError(all_issues)
    return graph


def _cached_compile(bundle: ConfigBundle, doc: LoadedYaml) -> tuple[CompiledGraph | None, list[ConfigIssue]]:
    cache: dict[str, Any] = bundle.__dict__.setdefault("_compiled_graphs", {})
    if doc.file not in cache:
        cache[doc.file] = compile_graph(bundle, doc, bundle.resources)
    return cache[doc.file]


def load_all_graphs(bundle: ConfigBundle) -> None:
    """Compile every graph under graphs/ and add their problems to the bundle."""
    for doc in bundle.glob("graphs/*.yaml"):
        _graph, issues = _cached_compile(bundle, doc)
        bundle.add(issues)
