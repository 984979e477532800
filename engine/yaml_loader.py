"""Safe YAML loading that remembers where every value came from (file and line)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigIssue

__all__ = ["LoadedYaml", "load_yaml", "format_loc"]


@dataclass
class LoadedYaml:
    """A parsed YAML document plus its node tree, for mapping paths back to lines."""

    file: str  # path as shown in messages (relative to the config dir when possible)
    data: Any
    root: yaml.Node | None
    text: str

    def line_of(self, loc: Sequence[str | int]) -> int:
        """1-based line of the deepest node reachable along ``loc`` (keys and indices)."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def key_line(self, loc: Sequence[str | int]) -> int:
        """Line of the mapping key at the end of ``loc`` (better for 'extra key' errors)."""
        if not loc:
            return self.line_of(loc)
        parent = self._node_at(loc[:-1])
        if isinstance(parent, yaml.MappingNode):
            for key, _value in parent.value:
                if key.value == str(loc[-1]):
                    return key.start_mark.line + 1
        return self.line_of(loc)

    def _node_at(self, loc: Sequence[str | int]) -> yaml.Node | None:
        node = self.root
        for part in loc:
            if node is None:
                return None
            node = _child(node, part)
        return node

    def issue(self, loc: Sequence[str | int], problem: str, fix: str = "", key: bool = False) -> ConfigIssue:
        line = self.key_line(loc) if key else self.line_of(loc)
        return ConfigIssue(self.file, line, format_loc(loc), problem, fix)


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def format_loc(loc: Sequence[str | int]) -> str:
    """``("nodes", "a", "after", 0)`` → ``nodes.a.after[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _duplicate_keys(node: yaml.Node | None, loc: tuple[str | int, ...], file: str) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                issues.append(
                    ConfigIssue(
                        file,
                        key.start_mark.line + 1,
                        format_loc(loc + (name,)),
                        f"duplicate key (first defined on line {seen[name]})",
                        "Keep one definition",
                    )
                )
            else:
                seen[name] = key.start_mark.line + 1
            issues.extend(_duplicate_keys(value, loc + (name,), file))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            issues.extend(_duplicate_keys(item, loc + (index,), file))
    return issues


def load_yaml(path: Path, shown_as: str | None = None) -> tuple[LoadedYaml | None, list[ConfigIssue]]:
    """Parse ``path`` with the safe loader. Returns the document and any problems.

    Syntax errors and duplicate keys become ``ConfigIssue``s instead of exceptions so a
    load can report every problem of every file at once.
    """
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [ConfigIssue(shown, 1, "", f"file is not UTF-8 ({exc.reason})", "Save it as UTF-8")]
    except OSError as exc:
        return None, [ConfigIssue(shown, 0, "", f"cannot read file ({exc.strerror})", "Check the path")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        loader = yaml.SafeLoader(text)
        try:
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [ConfigIssue(shown, line, "", f"invalid YAML: {exc.problem or exc.context}", "Fix the syntax")]
    except yaml.YAMLError as exc:
        return None, [ConfigIssue(shown, 1, "", f"invalid YAML: {exc}", "Fix the syntax")]
    return LoadedYaml(shown, data, root, text), _duplicate_keys(root, (), shown)
