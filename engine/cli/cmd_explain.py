"""``spinflow explain "сколько стоит?"``: how the cascade sees one message, stage by stage.

Normalises the message with the graph's ``normalize.text`` node, then runs every cascade
stage without early exits and prints a table (stage, top intents, what matched, time), the
real decision (the stage that decided and why), the normalisation changes and the data the
extractor found. ``--context`` passes a dialogue context as JSON.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from engine.cli.common import add_config_args, console, make_runtime
from engine.errors import EngineError

__all__ = ["register", "run", "explain_message"]

DEFAULT_GRAPH = "graphs/classify_only.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("explain", help="show each classification stage's view of one message")
    parser.add_argument("message", help="the client message (quote it)")
    parser.add_argument("--context", default="", metavar="JSON", help='dialogue context, e.g. \'{"state": "spin_problem", "last_action": "ask_problem"}\'')
    parser.add_argument("--graph", default=DEFAULT_GRAPH, help="graph holding the normalize and classify.cascade nodes")
    parser.add_argument("--json", dest="as_json", action="store_true", help="print the raw explanation as JSON")
    add_config_args(parser)
    parser.set_defaults(func=run)


def _node_of_type(runtime: Any, type_name: str) -> Any:
    for node in runtime.graph.order:
        if node.type_name == type_name:
            return node
    return None


def explain_message(runtime: Any, message: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Explanation dict: normalisation, every stage, the decision, extracted data."""
    cascade_node = _node_of_type(runtime, "classify.cascade")
    if cascade_node is None:
        raise EngineError(f"graph '{runtime.graph.name}' has no classify.cascade node; use --graph graphs/classify_only.yaml")
    from engine.state import ConversationState

    turn = runtime.run(ConversationState(conversation_id="explain", flow=runtime.bundle.settings.flow), message, dialogue_context=context or {})
    text = str(turn.values.get("text", message))
    from nodes.classify.context import derive_context

    derived = derive_context({"dialogue_context": context or {}}, cascade_node.instance.cascade.phase_rules)
    semantic = bool(runtime.flags.snapshot().get(cascade_node.instance.config.semantic_flag, False))
    explanation = cascade_node.instance.cascade.explain(text, derived, semantic=semantic)
    explanation["message"] = message
    explanation["text"] = text
    explanation["normalization"] = turn.values.get("normalization", {})
    explanation["emoji"] = turn.values.get("emoji", [])
    explanation["extracted"] = turn.values.get("extracted", {})
    explanation["semantic_enabled"] = semantic
    return explanation


def _top(items: list[Any] | None, limit: int = 3) -> str:
    return ", ".join(f"{intent} {score:.2f}" for intent, score, *_rest in (items or [])[:limit]) or "—"


def run(args: argparse.Namespace) -> int:
    try:
        context = json.loads(args.context) if args.context else {}
    except json.JSONDecodeError as exc:
        raise EngineError(f"--context is not valid JSON: {exc.msg}") from exc
    if not isinstance(context, dict):
        raise EngineError("--context must be a JSON object")
    runtime = make_runtime(args, graph=args.graph, trace=False)
    explanation = explain_message(runtime, args.message, context)
    if args.as_json:
        print(json.dumps(explanation, ensure_ascii=False, indent=2, default=str))
        return 0
    print_explanation(explanation)
    return 0


def print_explanation(explanation: dict[str, Any]) -> None:
    changes = explanation["normalization"].get("changes", [])
    console.print(f"[bold]message[/]  {explanation['message']}")
    console.print(f"[bold]text[/]     {explanation['text']}" + (f"   [dim]({', '.join(changes)})[/]" if changes else ""))
    if explanation.get("context"):
        console.print(f"[bold]context[/]  {json.dumps(explanation['context'], ensure_ascii=False)}")
    stages = explanation["stages"]
    timings = explanation["timings_us"]
    table = Table(title="cascade stages (all run; the real cascade stops at the first decision)")
    for column in ("stage", "top intents (confidence)", "why", "µs"):
        table.add_column(column, justify="right" if column == "µs" else "left")
    decided = explanation["stage"]
    for name in ("patterns", "roots", "lemmas", "semantic"):
        if name not in stages:
            reason = "semantic_stage flag off" if name == "semantic" and not explanation.get("semantic_enabled") else "not run"
            table.add_row(name, "—", f"[dim]{reason}[/]", "")
            continue
        stage = stages[name]
        if name == "patterns":
            why = f"matched «{stage.get('matched')}»" if stage.get("matched") else "no pattern"
        elif name == "roots":
            why = ", ".join(stage.get("hits", [])[:4]) or "no root"
        elif name == "lemmas":
            parts = stage.get("hits", [])[:3]
            if stage.get("examples"):
                intent, similarity, example = stage["examples"][0]
                parts.append(f"≈ «{example}» ({intent} {similarity:.2f})")
            why = "; ".join(parts) or "no lemma"
        else:
            why = "model unavailable: " + str(stage.get("error")) if not stage.get("available", True) else "nearest: " + _top(stage.get("similarity"))
            if stage.get("reason"):  # which model served (trained from our examples or pretrained) and why
                why += f" — {stage.get('source')}: {stage['reason']}"
            if stage.get("overturned"):
                why += f" — overturned {stage['overturned'][0]} ({stage['overturned'][1]})"
            if stage.get("guard"):  # where the model is blind it may only vote (calibration guards)
                why += f" — only votes: {stage['guard']}"
        style = "bold green" if name == decided else None
        table.add_row(name, _top(stage.get("top")), why, f"{timings.get(name, 0):.0f}", style=style)
    console.print(table)
    console.print(f"[bold]decision[/] {explanation['intent']} ({explanation['confidence']:.2f}) by [bold]{decided}[/]" + (f" — pattern {explanation['pattern']}" if explanation.get("pattern") else ""))
    console.print(f"[bold]alternatives[/] {_top(explanation['alternatives'], 5)}")
    if explanation.get("extracted"):
        console.print(f"[bold]extracted[/] {json.dumps(explanation['extracted'], ensure_ascii=False)}")
    if explanation.get("emoji"):
        console.print(f"[bold]emoji[/] {' '.join(item['emoji'] + ':' + str(item['tone']) for item in explanation['emoji'])}")
