"""``guard.conversation``: loops, stalls and limits → an intervention the flow turns into a move.

Checks (thresholds in ``yaml_config/dialogue/guard.yaml``): conversation too long (turns,
minutes), the same message repeated, no progress (same state, no new data) for N turns,
a state held for N turns, high frustration. The first triggered check in the YAML's
``interventions`` order decides the intervention — rephrase, offer_options, skip_phase or
soft_close — which ``fsm.flow`` maps to a move (flow.yaml ``interventions:``). A cooldown
keeps the guard from intervening every turn.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigBundle, section
from engine.errors import ConfigError, ConfigIssue
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.context.detectors import trailing

__all__ = ["ConversationGuard", "GuardSettings", "CHECKS", "load_guard"]

FILE = "yaml_config/dialogue/guard.yaml"
CHECKS = ("high_frustration", "max_turns", "max_duration", "repeated_message", "no_progress", "state_stuck")
LAST_INTERVENTION = "guard.last_intervention_turn"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    check: Literal["high_frustration", "max_turns", "max_duration", "repeated_message", "no_progress", "state_stuck"]
    intervention: Literal["rephrase", "offer_options", "skip_phase", "soft_close"]


class GuardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    max_turns: int = Field(30, ge=1)
    max_duration_minutes: float = Field(45, gt=0)
    repeated_message_count: int = Field(2, ge=1, description="earlier copies of this message in the window that trigger")
    no_progress_turns: int = Field(5, ge=2, description="turns with no new collected data and no completed phase (states may bounce)")
    state_stuck_turns: int = Field(4, ge=2, description="turns in one state, data or not")
    high_frustration: float = Field(9, ge=0, le=10)
    cooldown_turns: int = Field(2, ge=0, description="turns after an intervention before the next one")
    exempt_states: list[str] = Field(default_factory=list, description="states where the guard never intervenes")
    interventions: list[_Rule] = Field(min_length=1)


@section("guard")
def load_guard(bundle: ConfigBundle) -> GuardSettings | None:
    loaded = bundle.required_model(FILE, GuardSettings, "thresholds and interventions")
    if loaded is None:
        return None
    doc, parsed = loaded
    flows = bundle.section("flows") or {}
    states = {name for flow in flows.values() for name in flow.states}
    for index, name in enumerate(parsed.exempt_states):
        if states and name not in states:
            from engine.registry import suggest

            bundle.add([doc.issue(("exempt_states", index), f"unknown state '{name}'", suggest(name, states) or "Use a state of a flow")])
    return parsed


class ConversationGuardConfig(NodeConfig):
    pass


@register("guard.conversation")
class ConversationGuard:
    """Evaluates every check and reports the intervention (or none) with its reasons."""

    Config = ConversationGuardConfig
    reads = frozenset({"text", "turn_index", "turn_time", "conv.started_at", "conv.context_window", "conv.state", "conv.frustration", "conv.counters"})
    writes = frozenset({"guard", "conv.counters"})

    def __init__(self, config: ConversationGuardConfig, resources: Any) -> None:
        self.settings: GuardSettings | None = resources.bundle.section("guard")
        if self.settings is None:
            raise ConfigError([ConfigIssue(FILE, 0, "", "guard.conversation cannot start: the file is missing or invalid", "Fix the problems listed for it")])

    def checks(self, state: Mapping[str, Any], turn: int) -> dict[str, Any]:
        """The value behind each check (numbers, for the trace) and whether it triggered."""
        settings = self.settings
        assert settings is not None
        window = [entry for entry in (state.get("conv.context_window") or []) if isinstance(entry, Mapping)]
        text = str(state.get("text") or "").strip()
        earlier = [str(entry.get("text") or "").strip() for entry in window[:-1]]
        copies = sum(1 for other in earlier if text and other == text)
        states = [entry.get("state") for entry in window]
        held = trailing(states, lambda value: value == (states[-1] if states else None)) if states else 0
        progress = [(entry.get("data_count"), entry.get("phases_done")) for entry in window]
        stalled = trailing(progress, lambda value: value == progress[-1]) if progress else 0
        minutes = _minutes_between(state.get("conv.started_at"), state.get("turn_time"))
        frustration = float(state.get("conv.frustration") or 0.0)
        values = {
            "high_frustration": (frustration, frustration >= settings.high_frustration),
            "max_turns": (turn, turn > settings.max_turns),
            "max_duration": (round(minutes, 1), minutes > settings.max_duration_minutes),
            "repeated_message": (copies, copies >= settings.repeated_message_count),
            "no_progress": (stalled, stalled >= settings.no_progress_turns),
            "state_stuck": (held, held >= settings.state_stuck_turns),
        }
        return {name: {"value": value, "triggered": triggered} for name, (value, triggered) in values.items()}

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        settings = self.settings
        assert settings is not None
        turn = int(state.get("turn_index") or ctx.turn_index)
        checks = self.checks(state, turn)
        triggered = [name for name in CHECKS if checks[name]["triggered"]]
        counters = dict(state.get("conv.counters") or {})
        last = int(counters.get(LAST_INTERVENTION, -10_000))
        intervention, reasons, note = "", triggered, ""
        if (state.get("conv.state") or "") in settings.exempt_states:
            note = "state exempt"
        elif triggered and turn - last <= settings.cooldown_turns:
            note = f"cooldown (last intervention on turn {last})"
        else:
            for rule in settings.interventions:
                if rule.check in triggered:
                    intervention = rule.intervention
                    reasons = [rule.check] + [name for name in triggered if name != rule.check]
                    break
        out: dict[str, Any] = {"guard": {"intervention": intervention, "reasons": reasons if intervention else [], "triggered": triggered, "checks": checks, "can_continue": intervention != "soft_close", "note": note}}
        if intervention:
            counters[LAST_INTERVENTION] = turn
            out["conv.counters"] = counters
        return out


def _minutes_between(start: Any, end: Any) -> float:
    try:
        first = datetime.fromisoformat(str(start))
        second = datetime.fromisoformat(str(end))
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (second - first).total_seconds() / 60.0)
