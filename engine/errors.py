"""Error hierarchy: one root, config errors that know their file and line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EngineError", "ConfigIssue", "ConfigError", "NodeError", "PatchError", "SessionError"]


class EngineError(Exception):
    """Root of every error spinflow raises on purpose."""


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One problem found while loading configuration.

    Rendered as ``file:line: dotted.path: problem. fix``. Sorting is by file, then line,
    so a whole load reads top to bottom.
    """

    file: str
    line: int
    path: str
    problem: str
    fix: str = ""

    def render(self) -> str:
        location = f"{self.file}:{self.line}" if self.line else self.file
        problem = self.problem.rstrip(".")
        text = f"{location}: {self.path or '<root>'}: {problem}."
        if self.fix:
            fix = self.fix.strip()
            text += f" {fix}" if fix[-1] in ".?!" else f" {fix}."
        return text


class ConfigError(EngineError):
    """Every problem of one configuration load, reported at once (sorted)."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(set(issues))
        super().__init__("\n".join(issue.render() for issue in self.issues))

    @classmethod
    def single(cls, file: str | Path, line: int, path: str, problem: str, fix: str = "") -> ConfigError:
        return cls([ConfigIssue(str(file), line, path, problem, fix)])


class NodeError(EngineError):
    """A node failed at run time; wraps the original exception with the node id."""

    def __init__(self, node_id: str, node_type: str, message: str) -> None:
        self.node_id = node_id
        self.node_type = node_type
        super().__init__(f"node '{node_id}' ({node_type}): {message}")


class PatchError(NodeError):
    """A node returned a patch that writes outside its declared ``writes``."""


class SessionError(EngineError):
    """A session cannot be resumed (wrong client, unreadable or newer format)."""
