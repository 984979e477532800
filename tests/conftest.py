"""Fixtures shared by every test package."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def ollama_server() -> Iterator[object]:
    """A started loopback server speaking Ollama's API (see tests/fakes/ollama_server.py)."""
    from tests.fakes.ollama_server import FakeOllama

    server = FakeOllama().start()
    try:
        yield server
    finally:
        server.stop()
