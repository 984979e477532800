"""Conversation state survives restarts; another client is refused without data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from engine.errors import SessionError
from engine.runtime import Runtime
from engine.sessions import SessionStore
from engine.state import ConversationState


def test_resume_after_restart_continues_the_flow(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    with Runtime(trace_db=db) as first:
        first.turn("s1", "Здравствуйте", client_id="acme")
        assert first.turn("s1", "у нас 3 магазина продуктов", client_id="acme").conversation_after.state == "spin_problem"
    with Runtime(trace_db=db) as second:  # a new process would do exactly this
        state, resumed = second.open("s1", "acme")
        assert resumed and state.turn_count == 2 and state.state == "spin_problem" and state.client_id == "acme"
        result = second.turn("s1", "сколько стоит?", client_id="acme")
        assert result.turn_index == 3


def test_other_client_is_refused_and_file_untouched(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.save(ConversationState(conversation_id="s1", client_id="acme", collected_data={"phone": "+77011234567"}))
    before = store.path_for("s1").read_bytes()
    with pytest.raises(SessionError, match="belongs to another client") as caught:
        store.open("s1", "intruder")
    assert "+77011234567" not in str(caught.value)
    with pytest.raises(SessionError, match="pass --client-id"):
        store.open("s1", None)
    assert store.path_for("s1").read_bytes() == before


def test_unreadable_or_newer_session_is_a_clear_error(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.path_for("bad").write_text("{not json", encoding="utf-8")
    with pytest.raises(SessionError, match="unreadable"):
        store.open("bad", None)
    store.path_for("new").write_text(json.dumps({"version": 99, "conversation_id": "new"}), encoding="utf-8")
    with pytest.raises(SessionError, match="state version 99"):
        store.open("new", None)


def test_ids_are_sanitised_but_stay_distinct(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    assert store.path_for("../etc/passwd").parent == tmp_path
    assert store.path_for("a/b") != store.path_for("a_b")


def _chat(args: list[str], stdin: str, env_db: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPINFLOW_TRACE_DB=str(env_db))
    return subprocess.run([sys.executable, "-m", "engine.cli.main", "chat", *args], input=stdin, capture_output=True, text=True, timeout=180, env=env)


def test_chat_pipe_prints_one_reply_per_line_and_traces_every_node(tmp_path: Path) -> None:
    db = tmp_path / "traces.duckdb"
    done = _chat(["--session", "s1"], "Здравствуйте\nу нас 3 магазина продуктов\n", db)
    assert done.returncode == 0, done.stderr
    replies = done.stdout.splitlines()
    assert len(replies) == 2 and all(any("а" <= ch <= "я" for ch in reply.lower()) for reply in replies)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from turns where conversation_id = 's1'").fetchone()[0] == 2
        executed = con.execute("select turn, count(*) from node_runs where conversation_id = 's1' and status <> 'skipped' group by turn order by turn").fetchall()
        total = con.execute("select turn, count(*) from node_runs where conversation_id = 's1' group by turn order by turn").fetchall()
    finally:
        con.close()
    from engine.config import ConfigBundle
    from engine.graph import load_graph

    nodes_in_graph = len(load_graph(ConfigBundle(), "turn").order)
    assert [count for _, count in total] == [nodes_in_graph, nodes_in_graph]
    assert all(count >= 3 for _, count in executed)


def test_chat_jsonl_and_client_refusal(tmp_path: Path) -> None:
    db = tmp_path / "traces.duckdb"
    done = _chat(["--session", "s2", "--client-id", "acme", "--jsonl"], "Здравствуйте\n", db)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.splitlines()[0])
    assert record["turn"] == 1 and record["state"] == "greeting" and record["reply"]
    refused = _chat(["--session", "s2", "--client-id", "other"], "привет\n", db)
    assert refused.returncode == 3
    assert "another client" in refused.stderr and refused.stdout == ""
