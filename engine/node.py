"""The node contract: a registered class with a frozen Config, reads, writes and run()."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = ["Node", "NodeConfig", "NodeContext", "StateView"]


class NodeConfig(BaseModel):
    """Base for every node's ``Config``: frozen, extra keys forbidden."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@runtime_checkable
class Node(Protocol):
    """What the executor needs from a node instance."""

    type_name: ClassVar[str]
    Config: ClassVar[type[NodeConfig]]
    reads: ClassVar[frozenset[str]]
    writes: ClassVar[frozenset[str]]

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]: ...


class NodeContext:
    """Per-run facts a node may use besides its inputs.

    ``seed`` is derived from conversation id, turn and node id so that any randomness
    (response variations) is reproducible on replay. ``flags`` is the frozen mapping of
    feature flags in force for this turn. ``replay`` is true when the turn is being
    re-executed from a trace.
    """

    __slots__ = ("conversation_id", "turn_index", "node_id", "flags", "seed", "replay", "settings")

    def __init__(
        self,
        conversation_id: str,
        turn_index: int,
        node_id: str,
        flags: Mapping[str, bool],
        seed: int,
        settings: Mapping[str, Any],
        replay: bool = False,
    ) -> None:
        self.conversation_id = conversation_id
        self.turn_index = turn_index
        self.node_id = node_id
        self.flags = flags
        self.seed = seed
        self.settings = settings
        self.replay = replay

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name, False))


class StateView(Mapping[str, Any]):
    """Read-only view of the turn's values restricted to a node's declared reads.

    Reading an undeclared key raises ``KeyError`` naming the fix, so a node cannot depend
    silently on something the validator did not check. A declared key that no executed
    node produced reads as missing (use ``state.get``).
    """

    __slots__ = ("_values", "_reads", "_node_id")

    def __init__(self, values: Mapping[str, Any], reads: frozenset[str], node_id: str) -> None:
        self._values = values
        self._reads = reads
        self._node_id = node_id

    def __getitem__(self, key: str) -> Any:
        if key not in self._reads:
            raise KeyError(f"node '{self._node_id}' read undeclared key {key!r}; add it to the node's reads")
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        # Nodes call this hundreds of times per turn: a declared key is the common case.
        if key in self._reads:
            return self._values.get(key, default)
        raise KeyError(f"node '{self._node_id}' read undeclared key {key!r}; add it to the node's reads")

    def __contains__(self, key: object) -> bool:
        return key in self._reads and key in self._values

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (key for key in self._reads if key in self._values)

    def __len__(self) -> int:
        return sum(1 for key in self._reads if key in self._values)
