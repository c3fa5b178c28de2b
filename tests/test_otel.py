"""labkit/observe/otel.py: a traced run as OpenTelemetry spans by the GenAI conventions, in
memory and in an OTLP JSON file read back; bad files refused with the reason."""
import json

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import labkit
from labkit import Agent
from labkit.llm.scripted import ScriptedModel
from labkit.observe import otel, trace
from labkit.observe.trace import Trace

WORKER = Agent("worker", "do the work", "Work.", version="3")


def known_run() -> Trace:
    """manager sends a task; worker handles it with one model call, then one tool that raises."""
    with labkit.override(client=ScriptedModel(['{"ok": true}'])), Trace() as run:
        with trace.span("plan", agent="manager"):
            task = trace.message("manager", "worker", "task")
        with trace.span("work", agent="worker", links=[task]):
            WORKER.ask("Do it.")
            with pytest.raises(RuntimeError), trace.span("tool lookup", agent="worker"):
                raise RuntimeError("no such row")
    return run


def test_the_span_tree_and_attributes_of_a_known_run(unit_session):
    exporter = InMemorySpanExporter()
    otel.export(known_run(), exporter)
    spans = {s.name: s for s in exporter.get_finished_spans()}

    assert set(spans) == {"invoke_agent manager", "send worker", "invoke_agent worker",
                          "do the work", "chat scripted", "execute_tool lookup"}
    parent = {name: s.parent.span_id if s.parent else None for name, s in spans.items()}
    ids = {name: s.context.span_id for name, s in spans.items()}
    assert parent["send worker"] == ids["invoke_agent manager"]
    assert parent["chat scripted"] == ids["do the work"]
    assert parent["do the work"] == parent["execute_tool lookup"] == ids["invoke_agent worker"]
    assert [link.context.span_id for link in spans["invoke_agent worker"].links] == [ids["send worker"]]
    chat = spans["chat scripted"]
    assert chat.kind == SpanKind.CLIENT
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.agent.version"] == "3"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 3  # the scripted model counts words: "Work." "Do it."
    assert chat.attributes["gen_ai.usage.output_tokens"] == 2
    assert spans["send worker"].kind == SpanKind.PRODUCER
    tool = spans["execute_tool lookup"]
    assert tool.status.status_code == StatusCode.ERROR
    assert tool.attributes["error.type"] == "RuntimeError"
    assert spans["invoke_agent worker"].attributes["gen_ai.operation.name"] == "invoke_agent"


def test_the_otlp_file_reads_back_to_the_same_tree_and_bytes(unit_session, tmp_path):
    run = known_run()
    path = otel.write_otlp(run, tmp_path / "run.otlp.json")
    spans = otel.read_otlp(path)

    assert otel.span_tree(spans) == ["invoke_agent manager", "  send worker",
                                     "invoke_agent worker", "  do the work",
                                     "    chat scripted", "  execute_tool lookup !"]
    request = json.loads(path.read_text().splitlines()[0])
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16  # hex, as OTLP JSON says
    worker = next(s for s in spans if s["name"] == "invoke_agent worker")
    assert worker["links"] == [next(s["span_id"] for s in spans if s["name"] == "send worker")]
    first = path.read_bytes()
    assert otel.write_otlp(run, path).read_bytes() == first  # seeded ids, model times


def test_bad_files_are_refused_with_the_reason(unit_session, tmp_path):
    path = otel.write_otlp(known_run(), tmp_path / "run.otlp.json")
    old = tmp_path / "old.otlp.json"
    old.write_text(path.read_text().replace('"0.2.0"', '"0.1.0"'))
    with pytest.raises(otel.TraceFileError, match="labkit 0.1.0.*Re-run"):
        otel.read_otlp(old)
    empty = tmp_path / "empty.otlp.json"
    empty.write_text("")
    with pytest.raises(otel.TraceFileError, match="no spans"):
        otel.read_otlp(empty)
    with pytest.raises(otel.TraceFileError, match="does not exist"):
        otel.read_otlp(tmp_path / "missing.json")
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    with pytest.raises(otel.TraceFileError, match="line 1"):
        otel.read_otlp(garbled)
    with pytest.raises(ValueError, match="no spans"):
        otel.export(Trace(), InMemorySpanExporter())
