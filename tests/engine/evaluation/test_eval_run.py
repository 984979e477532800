"""``spinflow eval dialogues`` through the real turn graph: report, shards, workers, failures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import ConfigError, EngineError
from engine.evaluation import EvaluationOptions, evaluate, prepare, shard_paths
from engine.evaluation.engines import partition, run_local
from engine.evaluation.runner import ChunkJob, RunSpec, runtime_for, strip_timings
from engine.evaluation.spec import load_suite
from engine.state import ConversationState
from engine.trace_store import TraceStore
from tests.engine.evaluation.support import SMALL, fast_flags

FAST = fast_flags()
FAST_ARGS = [part for name in FAST for part in ("--flag", f"{name}=off")]
TURNS = {"eval-small_grocery": 4, "eval-small_unclear": 5, "eval-small_goodbye": 4, "eval-small_price": 4}


def test_cli_report_json_and_one_shard_per_worker(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code = main(["eval", "dialogues", str(SMALL), "--workers", "2", "--trace-dir", str(tmp_path / "traces"), "--json", str(out), *FAST_ARGS])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    for key in ("dialogues", "passed", "pass_rate", "turns", "turns_per_s", "latency_ms", "per_expectation", "results"):
        assert key in report
    assert set(report["latency_ms"]) >= {"p50", "p95", "p99"}
    assert (report["dialogues"], report["turns"], report["workers"], report["engine"]) == (4, 17, 2, "local")
    assert report["per_expectation"]["clean"]["checked"] == 17
    assert report["per_expectation"]["state"]["checked"] == 1
    assert report["per_expectation"]["outcome.reaches"]["checked"] == 1
    assert report["passed"] == sum(result["passed"] for result in report["results"])
    assert [result["id"] for result in report["results"]] == ["small_goodbye", "small_grocery", "small_price", "small_unclear"]
    assert report["results"][1]["turn_lines"] == [8, 10, 11, 12]
    assert set(report["node_latency_ms"]) >= {"normalize", "fsm", "respond"}
    shards = shard_paths(tmp_path / "traces")
    assert [p.name for p in shards] == ["shard-0.duckdb", "shard-1.duckdb"]
    assert report["traced_turns"] == 17
    with TraceStore.open_shards(shards) as store:  # the shards read as one store
        _columns, rows = store.query("SELECT conversation_id, count(*) FROM turns WHERE run_id = ? GROUP BY 1", [report["run_id"]])
        assert dict(rows) == TURNS
        _columns, rows = store.query("SELECT count(DISTINCT conversation_id) FROM turns WHERE run_id = ?", [report["run_id"]])
        assert rows[0][0] == 4
    for shard in shards:  # each worker wrote whole dialogues into its own shard
        with TraceStore(shard, read_only=True) as store:
            assert store.query("SELECT count(*) FROM turns")[1][0][0] in (8, 9)


def test_same_results_with_one_or_two_workers_and_same_as_the_runtime() -> None:
    one = evaluate(prepare(EvaluationOptions([SMALL], flags=FAST, workers=1)))
    two = evaluate(prepare(EvaluationOptions([SMALL], flags=FAST, workers=2)))
    assert two["workers"] == 2
    assert strip_timings(one["results"]) == strip_timings(two["results"])
    # the runner records exactly what the runtime does for the same conversation id
    runtime = runtime_for(RunSpec.make(None, None, FAST))
    state = ConversationState(conversation_id="eval-small_price", flow=runtime.bundle.settings.flow)
    result = next(r for r in two["results"] if r["id"] == "small_price")
    for turn in result["turns"]:
        direct = runtime.run(state, turn["client"])
        state = direct.conversation_after
        assert (turn["intent"], turn["state"], turn["action"], turn["reply"]) == (direct.get("intent"), state.state, direct.get("action"), direct.response)


def test_partition_is_deterministic_and_balanced() -> None:
    dialogues = load_suite([Path(__file__).parents[3] / "evals" / "dialogues"]).dialogues
    chunks = partition(dialogues, 2)
    loads = [sum(len(d.spec.turns) for d in chunk) for chunk in chunks]
    assert abs(loads[0] - loads[1]) <= 1
    assert sorted(d.id for chunk in chunks for d in chunk) == sorted(d.id for d in dialogues)
    assert [[d.id for d in chunk] for chunk in partition(list(reversed(dialogues)), 2)] == [[d.id for d in chunk] for chunk in chunks]
    assert len(partition(dialogues[:3], 8)) == 3


def test_a_failing_worker_fails_the_run_naming_it(tmp_path: Path) -> None:
    dialogues = load_suite([SMALL]).dialogues
    jobs = [ChunkJob(k, RunSpec.make(str(tmp_path / "no-config"), None, {}), [dialogue], None, "r") for k, dialogue in enumerate(dialogues[:2])]
    with pytest.raises(EngineError, match=r"evaluation worker \d failed:(.|\n)*missing folder 'graphs/'"):
        run_local(jobs)


def test_exit_codes(tmp_path: Path) -> None:
    failing = tmp_path / "failing.yaml"
    failing.write_text("version: 1\ndialogues:\n  - id: f\n    persona: x\n    turns:\n      - client: Здравствуйте\n        expect: {state: success}\n",
                       encoding="utf-8")
    assert main(["eval", "dialogues", str(failing), "--no-trace", *FAST_ARGS]) == 0
    assert main(["eval", "dialogues", str(failing), "--no-trace", "--fail-under", "1", *FAST_ARGS]) == 1
    failing.write_text(failing.read_text(encoding="utf-8").replace("success", "sucess"), encoding="utf-8")
    assert main(["eval", "dialogues", str(failing), "--no-trace", *FAST_ARGS]) == 2  # unknown state: a config problem
    with pytest.raises(ConfigError, match=r"failing\.yaml:7: dialogues\[0\]\.turns\[0\]\.expect\.state: unknown state 'sucess'. Did you mean 'success'\?"):
        prepare(EvaluationOptions([failing], flags=FAST))
