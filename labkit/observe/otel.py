"""A labkit trace as OpenTelemetry spans, named by the GenAI semantic conventions.

    export(run, InMemorySpanExporter())          # for tests
    write_otlp(run, "shift.otlp.json")           # an OTLP JSON file, one request per line
    export(run, OTLPSpanExporter("http://127.0.0.1:4318/v1/traces"))   # Jaeger, Phoenix, Langfuse

The spans go through opentelemetry-sdk's own TracerProvider and exporters, so whatever reads
OpenTelemetry reads them; only the exporter changes. Steps become `invoke_agent` spans, tools
`execute_tool`, model calls `chat`, messages `send` spans that the receiver's step links to, and
instants (an injected fault, a breaker opening) events on their step. Times are model time from
a fixed epoch and ids come from a seed, so the same run exports the same bytes. No prompt or
answer is exported: the spans carry names, counts and times only.
"""
from __future__ import annotations

import json
import random
from base64 import b64decode
from pathlib import Path

from opentelemetry import trace as otel
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator

from .._version import __version__
from .trace import Span, Trace

EPOCH_NS = 1_767_225_600 * 10**9  # 2026-01-01 00:00 UTC: model second 0 of every export
SCOPE = "labkit.observe"


class TraceFileError(ValueError):
    """An OTLP file labkit cannot read: empty, not OTLP JSON, or from another labkit."""


class SeededIds(IdGenerator):
    """Trace and span ids drawn from a seed: the same run gets the same ids."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


def export(run: Trace, exporter: SpanExporter, *, service: str = "labkit-course",
           provider: str = "openai", seed: int = 0) -> None:
    """Send every span of `run` to `exporter`, as one OpenTelemetry trace."""
    if not run.spans:
        raise ValueError("This trace has no spans: run the agents inside `with Trace() as run:`.")
    tracers = TracerProvider(resource=Resource({"service.name": service,
                                                "service.version": __version__,
                                                "labkit.version": __version__}),
                             id_generator=SeededIds(seed))
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tracers.get_tracer(SCOPE, __version__)
    opened: dict[int, otel.Span] = {}
    by_id = {span.id: span for span in run.spans}
    for seq, span in enumerate(run.spans):  # in start order: a parent and a message come before their users
        if span.kind not in ("step", "llm", "message"):
            _event(span, opened)
            continue
        parent = opened.get(span.parent)
        links = [otel.Link(opened[i].get_span_context()) for i in span.links if i in opened]
        name, kind, attributes = _convention(span, by_id.get(span.parent), provider)
        attributes["labkit.seq"] = seq  # the start order, where model times tie
        opened[span.id] = tracer.start_span(
            name, context=otel.set_span_in_context(parent) if parent else None, kind=kind,
            attributes=attributes, links=links, start_time=_ns(span.start))
        if span.error:
            opened[span.id].set_status(otel.Status(otel.StatusCode.ERROR, span.error))
    for span_id in sorted(opened, key=lambda i: (by_id[i].end, -i)):  # children end first
        opened[span_id].end(end_time=_ns(by_id[span_id].end))
    tracers.shutdown()


def _convention(span: Span, parent: Span | None, provider: str) -> tuple[str, otel.SpanKind, dict]:
    """The GenAI semantic conventions' name, kind and attributes for one labkit span."""
    attributes = {"gen_ai.agent.name": span.agent, "labkit.span.name": span.name}
    if span.attrs.get("agent_version"):
        attributes["gen_ai.agent.version"] = span.attrs["agent_version"]
    if span.error:
        attributes["error.type"] = span.error.split(":")[0]
    if span.kind == "llm":
        model = span.attrs.get("model", "unknown")
        attributes |= {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                       "gen_ai.request.model": model, "gen_ai.response.model": model,
                       "gen_ai.usage.input_tokens": span.attrs.get("prompt_tokens", 0),
                       "gen_ai.usage.output_tokens": span.attrs.get("completion_tokens", 0)}
        return f"chat {model}", otel.SpanKind.CLIENT, attributes
    if span.kind == "message":
        attributes |= {"messaging.operation.type": "send", "messaging.operation.name": "send",
                       "messaging.destination.name": span.attrs["recipient"],
                       "labkit.message.kind": span.name}
        return f"send {span.attrs['recipient']}", otel.SpanKind.PRODUCER, attributes
    if span.name.startswith("tool "):
        tool = span.name.removeprefix("tool ")
        attributes |= {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
        return f"execute_tool {tool}", otel.SpanKind.INTERNAL, attributes
    if parent is not None and parent.agent == span.agent:  # a step inside the agent's own turn
        return span.name, otel.SpanKind.INTERNAL, attributes
    attributes["gen_ai.operation.name"] = "invoke_agent"
    return f"invoke_agent {span.agent}", otel.SpanKind.INTERNAL, attributes


def _event(span: Span, opened: dict) -> None:
    """An instant (a fault, a breaker): an event on the step it happened in."""
    if span.parent in opened:
        values = {k: v for k, v in span.attrs.items() if isinstance(v, (str, int, float, bool))}
        opened[span.parent].add_event(span.name, values | {"labkit.kind": span.kind},
                                      timestamp=_ns(span.start))


def _ns(model_seconds: float) -> int:
    return EPOCH_NS + round(model_seconds * 1e9)


# OTLP JSON: the format of the OpenTelemetry Collector's file exporter ------------------------

class OtlpJsonFile(SpanExporter):
    """Appends each export to `path` as one line of OTLP JSON (ids in hex, as OTLP says)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def export(self, spans) -> SpanExportResult:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        request = MessageToDict(encode_spans(spans))
        for resource in request.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    _hex_ids(span)
                    for link in span.get("links", []):
                        _hex_ids(link)
        with self.path.open("a") as file:
            file.write(json.dumps(request, sort_keys=True) + "\n")
        return SpanExportResult.SUCCESS


def _hex_ids(record: dict) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if record.get(key):
            record[key] = b64decode(record[key]).hex()


def write_otlp(run: Trace, path: str | Path, **options) -> Path:
    """Write `run` to `path` as OTLP JSON, replacing what was there."""
    path = Path(path)
    path.unlink(missing_ok=True)
    export(run, OtlpJsonFile(path), **options)
    return path


def read_otlp(path: str | Path) -> list[dict]:
    """The spans of an OTLP JSON file, flat: name, ids, kind, attributes, links, status.
    A file from another labkit version, or with no spans, is refused with the reason."""
    path = Path(path)
    if not path.exists():
        raise TraceFileError(f"{path} does not exist: write it with write_otlp(run, path).")
    spans = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            request = json.loads(line)
        except json.JSONDecodeError as error:
            raise TraceFileError(f"{path}, line {number}, is not JSON ({error}): an OTLP JSON "
                                 "file holds one export request per line.") from None
        for resource in request.get("resourceSpans", []):
            made_by = _values(resource.get("resource", {}).get("attributes", []))
            _check_version(path, made_by.get("labkit.version"))
            for scope in resource.get("scopeSpans", []):
                spans += [_flat(span) for span in scope.get("spans", [])]
    if not spans:
        raise TraceFileError(f"{path} holds no spans: was the run traced? Run it inside "
                             "`with Trace() as run:`, then write_otlp(run, path).")
    return spans


def _check_version(path: Path, version: str | None) -> None:
    if version is None:
        raise TraceFileError(f"{path} was not written by labkit (its resource has no "
                             "labkit.version): read it with an OpenTelemetry backend instead.")
    if version.split(".")[:2] != __version__.split(".")[:2]:
        raise TraceFileError(
            f"{path} was written by labkit {version}, and this is labkit {__version__}: span "
            f"names and attributes differ between versions. Re-run the notebook that made it, "
            f"or read it with labkit {version}.")


def _flat(span: dict) -> dict:
    return {"name": span["name"], "span_id": span["spanId"],
            "parent_id": span.get("parentSpanId", ""), "kind": span.get("kind", ""),
            "start_ns": int(span["startTimeUnixNano"]), "end_ns": int(span["endTimeUnixNano"]),
            "attributes": _values(span.get("attributes", [])),
            "links": [link["spanId"] for link in span.get("links", [])],
            "events": [event["name"] for event in span.get("events", [])],
            "error": span.get("status", {}).get("message", "")
            if span.get("status", {}).get("code") == "STATUS_CODE_ERROR" else ""}


def _values(attributes: list[dict]) -> dict:
    """OTLP's typed attribute values ({"key": k, "value": {"intValue": "3"}}) as plain ones."""
    plain = {}
    for attribute in attributes:
        (kind, value), = attribute["value"].items()
        plain[attribute["key"]] = int(value) if kind == "intValue" else value
    return plain


def span_tree(spans: list[dict]) -> list[str]:
    """The spans as an indented outline, children under their parent in start order."""
    children: dict[str, list[dict]] = {}
    for span in sorted(spans, key=lambda s: (s["start_ns"], s["attributes"].get("labkit.seq", 0))):
        children.setdefault(span["parent_id"], []).append(span)

    def lines(parent: str, depth: int) -> list[str]:
        return [line for span in children.get(parent, [])
                for line in ["  " * depth + span["name"] + (" !" if span["error"] else ""),
                             *lines(span["span_id"], depth + 1)]]
    return lines("", 0)
