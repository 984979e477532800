"""The refinement layer contract shared by every ``refine.*`` node.

A layer node reads the classifier's answer (``intent``, ``intent_confidence``,
``classification``), the message (``text``), extracted data (``extracted``) and the dialogue
context, and returns a patch that

* always appends one entry to ``refinement_chain`` (a new list; the input is never mutated):
  ``{layer, decision, reason, intent, confidence[, from][, meta]}`` with ``decision`` one of
  ``pass_through | refined | skipped | error``;
* writes ``intent``/``intent_confidence`` only when it refined them;
* may write layer-specific keys it declares (``secondary_intents``, ``disambiguation``, …).

The layer is skipped (decision ``skipped``, reason ``flag_off``) when the pipeline's master
flag or its own flag (``yaml_config/refinement/pipeline.yaml``) is off, and (reason
``refined_earlier``) when an earlier layer other than those in its file's
``overridable_layers`` already refined the turn: the first contextual decision stands. Any exception inside
the layer becomes decision ``error`` with the message in ``meta``: a failing layer leaves
the classification as it was and never breaks the turn.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from nodes.classify.context import CONTEXT_READS, derive_context
from nodes.refine.settings import REFINEMENT_DIR, LayerModel, RefinementConfig

__all__ = ["RefineLayer", "RefineLayerConfig", "Turn", "Outcome", "DECISIONS", "BASE_READS", "BASE_WRITES", "alternatives_of"]

DECISIONS = ("pass_through", "refined", "skipped", "error")
BASE_READS = frozenset({"text", "intent", "intent_confidence", "classification", "refinement_chain"}) | CONTEXT_READS
BASE_WRITES = frozenset({"intent", "intent_confidence", "refinement_chain"})


class RefineLayerConfig(NodeConfig):
    """Graph-level config of a layer node; the layer's data lives in its YAML file."""


def alternatives_of(classification: Any, intent: str) -> list[tuple[str, float]]:
    """Other candidates with scores, best first, from ``classification['alternatives']``.

    Accepts ``[[intent, score], …]`` (the cascade) and ``[{intent, confidence}, …]`` (LLM).
    """
    raw = classification.get("alternatives") if isinstance(classification, Mapping) else None
    out: dict[str, float] = {}
    for item in raw or ():
        if isinstance(item, Mapping):
            name, score = item.get("intent"), item.get("confidence", item.get("score"))
        elif isinstance(item, (list, tuple)) and len(item) >= 2:
            name, score = item[0], item[1]
        else:
            continue
        if not isinstance(name, str) or name == intent or not isinstance(score, (int, float)):
            continue
        if score > out.get(name, -1.0):
            out[name] = float(score)
    return sorted(out.items(), key=lambda pair: -pair[1])


@dataclass(slots=True)
class Turn:
    """What a layer sees of the turn (built once per layer run, cheap)."""

    text: str
    intent: str
    confidence: float
    classification: Mapping[str, Any]
    context: dict[str, Any]
    turn: int
    chain: list[dict[str, Any]]

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, with_context: bool = True) -> Turn:
        """``with_context=False`` leaves ``context`` empty and ``turn`` 0: enough to record a
        skipped layer, without deriving the dialogue context."""
        classification = state.get("classification")
        turn = cls(
            text=str(state.get("text") or ""),
            intent=str(state.get("intent") or "unclear"),
            confidence=float(state.get("intent_confidence") or 0.0),
            classification=classification if isinstance(classification, Mapping) else {},
            context={},
            turn=0,
            chain=list(state.get("refinement_chain") or ()),
        )
        if with_context:
            turn.add_context(state)
        return turn

    def add_context(self, state: Mapping[str, Any]) -> None:
        """Fill ``context`` and ``turn`` from the dialogue context."""
        self.context = derive_context(state)
        turn = self.context.get("turn")
        try:
            self.turn = int(turn) if turn not in (None, "") else int(state.get("turn_index") or 0)
        except (TypeError, ValueError):
            self.turn = int(state.get("turn_index") or 0)

    @property
    def state(self) -> str:
        return str(self.context.get("state") or "")

    @property
    def phase(self) -> str:
        return str(self.context.get("spin_phase") or "")

    @property
    def last_action(self) -> str:
        return str(self.context.get("last_action") or "")

    @property
    def last_bot_message(self) -> str:
        return str(self.context.get("last_bot_message") or "")

    def alternatives(self) -> list[tuple[str, float]]:
        return alternatives_of(self.classification, self.intent)

    def refined_by(self) -> list[str]:
        """Layers that already refined this turn's classification (intent or confidence)."""
        return [entry["layer"] for entry in self.chain if entry.get("decision") == "refined"]


@dataclass(slots=True)
class Outcome:
    """A layer's decision. ``extra`` holds further patch keys (declared in ``writes``)."""

    decision: str
    reason: str
    intent: str | None = None
    confidence: float | None = None
    meta: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None

    @classmethod
    def keep(cls, reason: str, meta: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Outcome:
        return cls("pass_through", reason, meta=meta, extra=extra)

    @classmethod
    def skip(cls, reason: str, meta: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Outcome:
        return cls("skipped", reason, meta=meta, extra=extra)

    @classmethod
    def refine(cls, reason: str, intent: str, confidence: float, meta: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Outcome:
        return cls("refined", reason, intent, round(float(confidence), 4), meta, extra)


class RefineLayer:
    """Base class of the layer nodes: flag gate, error guard, chain bookkeeping.

    Subclasses set ``layer`` (the name in ``pipeline.yaml`` and of its YAML file), may add
    ``extra_reads``/``extra_writes``, implement ``setup(settings, resources)`` and
    ``refine(turn, state) -> Outcome``.
    """

    layer: ClassVar[str] = ""
    #: Skip (reason ``refined_earlier``) when a layer not in the file's ``overridable_layers``
    #: already refined this turn: the first contextual decision stands.
    respect_earlier: ClassVar[bool] = True
    Config: ClassVar[type[NodeConfig]] = RefineLayerConfig
    extra_reads: ClassVar[frozenset[str]] = frozenset()
    extra_writes: ClassVar[frozenset[str]] = frozenset()
    reads: frozenset[str] = BASE_READS
    writes: frozenset[str] = BASE_WRITES

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.reads = BASE_READS | cls.extra_reads
        cls.writes = BASE_WRITES | cls.extra_writes

    def __init__(self, config: NodeConfig, resources: Any) -> None:
        self.config = config
        refinement: RefinementConfig | None = resources.bundle.section("refinement")
        entry = refinement.pipeline.layers.get(self.layer) if refinement is not None else None
        if refinement is None or entry is None:
            raise ConfigError([ConfigIssue(f"{REFINEMENT_DIR}/pipeline.yaml", 0, "layers", f"layer '{self.layer}' is not listed", f"Add '{self.layer}' with its priority and feature_flag")])
        self.refinement = refinement
        self.enabled = entry.enabled
        self.priority = entry.priority_value
        self.flags = tuple(flag for flag in (refinement.pipeline.master_flag, entry.feature_flag) if flag)
        self.taxonomy = resources.bundle.section("intents")
        settings = refinement.layer(self.layer)
        self.overridable = frozenset(settings.overridable_layers)
        self.setup(settings, resources)

    # -- to override -------------------------------------------------------------------------
    def setup(self, settings: LayerModel, resources: Any) -> None:
        """Prepare compiled markers etc. from the layer's validated YAML."""
        self.settings = settings

    def refine(self, turn: Turn, state: Mapping[str, Any]) -> Outcome:
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------------
    def in_category(self, intent: str, category: str) -> bool:
        return self.taxonomy is not None and self.taxonomy.in_category(intent, category)

    # -- the node contract ---------------------------------------------------------------------
    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        try:
            # The dialogue context is derived only for a layer that actually refines: a
            # skipped layer records intent, confidence and the chain alone.
            turn = Turn.from_state(state, with_context=False)
            if not self.enabled or not all(ctx.flag(flag) for flag in self.flags):
                off = [flag for flag in self.flags if not ctx.flag(flag)]
                return self.patch(turn, Outcome.skip("flag_off" if self.enabled else "disabled", {"flags_off": off} if off else None))
            if self.respect_earlier:
                earlier = [layer for layer in turn.refined_by() if layer not in self.overridable]
                if earlier:
                    return self.patch(turn, Outcome.skip("refined_earlier", {"by": earlier}))
            turn.add_context(state)
            return self.patch(turn, self.refine(turn, state))
        except Exception as exc:  # noqa: BLE001 - a layer failure keeps the classification as it was
            chain = state.get("refinement_chain")
            entry = {"layer": self.layer, "decision": "error", "reason": "exception", "intent": state.get("intent"),
                     "confidence": state.get("intent_confidence"), "meta": {"error": f"{type(exc).__name__}: {exc}"}}
            return {"refinement_chain": (list(chain) if isinstance(chain, list) else []) + [entry]}

    def patch(self, turn: Turn, outcome: Outcome) -> dict[str, Any]:
        entry: dict[str, Any] = {"layer": self.layer, "decision": outcome.decision, "reason": outcome.reason}
        patch: dict[str, Any] = {}
        if outcome.decision == "refined" and outcome.intent is not None:
            confidence = turn.confidence if outcome.confidence is None else outcome.confidence
            entry["from"] = [turn.intent, turn.confidence]
            entry["intent"], entry["confidence"] = outcome.intent, confidence
            patch["intent"], patch["intent_confidence"] = outcome.intent, confidence
        else:
            entry["intent"], entry["confidence"] = turn.intent, turn.confidence
        if outcome.meta:
            entry["meta"] = outcome.meta
        if outcome.extra:
            patch.update(outcome.extra)
        patch["refinement_chain"] = turn.chain + [entry]
        return patch
