"""Config checks of tones.yaml and the LLM tone prompt: every problem, with file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigBundle
from engine.errors import ConfigError
from engine.graph import load_graph
from tests.nodes.tone_support import SHIPPED, write_tone_config


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_graph(ConfigBundle(root), "tone_only")
    return [issue.render() for issue in caught.value.issues]


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_catalogue_problems(tmp_path: Path) -> None:
    tones = (SHIPPED / "yaml_config" / "tone" / "tones.yaml").read_text(encoding="utf-8")
    edited = tones.replace("default_tone: neutral", "default_tone: neutrall").replace("    semantic: 0.55\n", "    semantik: 0.55\n").replace("bias: {neutral: 0.02}", "bias: {neutal: 0.02}")
    rendered = problems(write_tone_config(tmp_path / "config", edit={"tones.yaml": edited}))
    assert f"yaml_config/tone/tones.yaml:{line_of(edited, 'default_tone')}: default_tone: unknown tone 'neutrall'. Did you mean 'neutral'?" in rendered
    assert f"yaml_config/tone/tones.yaml:{line_of(edited, 'semantik:')}: cascade.escalate_below.semantik: unknown tier 'semantik'. Did you mean 'semantic'?" in rendered
    assert f"yaml_config/tone/tones.yaml:{line_of(edited, 'bias:')}: semantic.bias.neutal: unknown tone 'neutal'. Did you mean 'neutral'?" in rendered


def test_prompt_placeholder_problems(tmp_path: Path) -> None:
    prompt = (SHIPPED / "yaml_config" / "tone" / "llm.yaml").read_text(encoding="utf-8")
    edited = prompt.replace("{tones}", "{tone_list}").replace("{message}", "{mesage}")
    rendered = problems(write_tone_config(tmp_path / "config", edit={"llm.yaml": edited}))
    system_line, user_line = line_of(edited, "system: |"), line_of(edited, "user: |")
    assert any(line.startswith(f"yaml_config/tone/llm.yaml:{system_line}: system: unknown placeholder '{{tone_list}}'") for line in rendered), rendered
    assert f"yaml_config/tone/llm.yaml:{user_line}: user: unknown placeholder '{{mesage}}'. Did you mean 'message'?" in rendered
    assert f"yaml_config/tone/llm.yaml:{user_line}: user: the user template never shows the client's message. Add {{message}}." in rendered
    assert f"yaml_config/tone/llm.yaml:{system_line}: system: the system template never lists the tones. Add {{tones}}." in rendered
