"""What a span says about agents, read the two ways agent frameworks write it.

Two conventions are read:

- **OpenTelemetry GenAI** (semantic conventions v1.36 to v1.41, Development status):
  ``gen_ai.operation.name`` is ``invoke_agent``/``create_agent`` (an agent), ``execute_tool`` (a
  tool), ``chat``/``text_completion``/``generate_content``/``embeddings`` (a model call);
  ``gen_ai.agent.id``/``gen_ai.agent.name`` name the agent, ``gen_ai.tool.name`` the tool,
  ``gen_ai.usage.input_tokens``/``output_tokens`` (before v1.27 ``prompt_tokens``/``completion_tokens``)
  count tokens, ``gen_ai.conversation.id`` groups turns. OpenLLMetry adds ``handoff`` spans with
  ``gen_ai.handoff.from_agent``/``to_agent`` and ``gen_ai.agent.handoff_parent``.
- **OpenInference** (the ``openinference-semantic-conventions`` 0.1.x attributes):
  ``openinference.span.kind`` is ``AGENT``/``TOOL``/``LLM``/``CHAIN``..., ``agent.name``,
  ``graph.node.id``/``graph.node.parent_id``, ``tool.name``, ``llm.token_count.*``, ``session.id``.
  Two instrumentations' habits are read as well: a TOOL span named ``handoff to <agent>`` (input:
  from, output: to) is the OpenAI Agents instrumentation's handoff, and a CHAIN span whose
  ``metadata`` has ``langgraph_node`` equal to its name is a LangGraph node, shown as an agent.

A span is reduced to a ``SpanRecord`` holding only what the swarm needs; prompts, completions,
tool arguments and results are never kept. This runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

__all__ = ["MAX_NAME_CHARS", "SpanBatch", "SpanKind", "SpanRecord", "clean_text", "read_spans"]

MAX_NAME_CHARS = 128
"""Names and ids longer than this are cut; a cut name still names one agent."""
MAX_METADATA_KEYS = 32
MAX_METADATA_CHARS = 256
MAX_METADATA_JSON = 16 << 10
"""An OpenInference ``metadata`` attribute longer than this is not parsed."""
MAX_TOKENS_PER_SPAN = 10**9


class SpanKind(enum.StrEnum):
    """What a span shows; also the ``kind`` label of ``visionflow_otlp_spans_total``."""

    AGENT = "agent"
    TOOL = "tool"
    LLM = "llm"
    HANDOFF = "handoff"
    OTHER = "other"


@dataclass(slots=True)
class SpanRecord:
    """One span, as much of it as the swarm uses."""

    trace_id: bytes
    span_id: bytes
    parent_id: bytes | None
    kind: SpanKind
    start_ns: int
    end_ns: int
    failed: bool = False
    error: str | None = None
    agent: str | None = None
    """AGENT spans: the agent's key; other spans: the agent the span itself names, if it does."""
    agent_name: str | None = None
    global_id: bool = False
    """``agent`` is a ``gen_ai.agent.id``: unique on its own, not qualified by the run."""
    parent_agent: str | None = None
    """The agent that handed over to this one or started it (``graph.node.parent_id`` and the like)."""
    handoff_from: str | None = None
    handoff_to: str | None = None
    tool: str | None = None
    tokens: int = 0
    model: str | None = None
    session: str | None = None
    step: int | None = None
    """A LangGraph node's superstep: nodes of consecutive steps of one graph run hand over."""
    convention: str = ""
    service: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """An agent span's attributes that nothing above maps (content attributes excluded)."""


@dataclass(slots=True)
class SpanBatch:
    records: list[SpanRecord]
    invalid: int
    """Spans refused for ids of the wrong length (a partial success for the sender)."""


_AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_OI_LLM = frozenset({"LLM", "EMBEDDING"})
_HANDOFF_PREFIX = "handoff to "

# Attributes that describe what a span *is*, read above and not copied into metadata.
_MAPPED = frozenset(
    {
        "gen_ai.operation.name", "gen_ai.agent.id", "gen_ai.agent.name", "gen_ai.conversation.id",
        "gen_ai.agent.handoff_parent", "openinference.span.kind", "agent.name", "graph.node.id",
        "graph.node.name", "graph.node.parent_id", "session.id", "error.type", "metadata",
        "traceloop.span.kind", "traceloop.entity.name",
    }
)  # fmt: skip
# Content (prompts, completions, tool arguments and results, instructions): never kept.
_CONTENT_PREFIXES = (
    "input.", "output.", "llm.input_messages", "llm.output_messages", "llm.prompts", "llm.prompt_template",
    "llm.tools", "llm.invocation_parameters", "gen_ai.input", "gen_ai.output", "gen_ai.prompt",
    "gen_ai.completion", "gen_ai.system_instructions", "gen_ai.tool.call", "gen_ai.tool.definitions",
    "tool.parameters", "retrieval.", "reranker.", "embedding.", "message.", "traceloop.entity.input",
    "traceloop.entity.output", "openai.agent.handoffs",
)  # fmt: skip


def clean_text(value: object, limit: int = MAX_NAME_CHARS) -> str | None:
    """A name fit to show: control characters and outer white space removed, at most ``limit`` characters."""
    if not isinstance(value, str):
        return None
    if len(value) <= limit and value.isprintable():  # the usual case, without a character loop
        return value.strip() or None
    text = "".join(ch for ch in value[: 4 * limit] if ch.isprintable()).strip()[:limit].strip()
    return text or None


def _scalar(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        items = [_scalar(v) for v in value.array_value.values[:16] if v.WhichOneof("value") != "array_value"]
        return [v for v in items if v is not None and not isinstance(v, list)]
    return None  # key-value lists and bytes are not shown


def _attributes(span: Span) -> dict[str, Any]:
    return {kv.key: _scalar(kv.value) for kv in span.attributes}


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or value < 0:  # NaN or negative
        return None
    return min(int(value), MAX_TOKENS_PER_SPAN)


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _tokens(attrs: dict[str, Any]) -> int:
    prompt = _int(_first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"))
    completion = _int(
        _first(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
    )
    if prompt is not None or completion is not None:
        return min((prompt or 0) + (completion or 0), MAX_TOKENS_PER_SPAN)
    total = _int(_first(attrs, "llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens"))
    return total or 0


def _metadata_json(value: Any) -> dict[str, Any]:
    """OpenInference's ``metadata`` attribute: a JSON object in a string (LangGraph's node, step, thread)."""
    if not isinstance(value, str) or len(value) > MAX_METADATA_JSON:
        return {}
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _graph_path(meta: dict[str, Any]) -> str | None:
    """The node's place in nested LangGraph graphs, ``outer/inner``, from its checkpoint namespace."""
    namespace = meta.get("langgraph_checkpoint_ns")
    node = clean_text(meta.get("langgraph_node"))
    if not isinstance(namespace, str) or not namespace:
        return node
    parts = [clean_text(part.split(":", 1)[0]) for part in namespace.split("|")]
    path = "/".join(p for p in parts if p)
    return clean_text(path) or node


def _extra(attrs: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for key, value in attrs.items():
        if len(extra) >= MAX_METADATA_KEYS:
            break
        if value is None or key in _MAPPED or key.startswith(_CONTENT_PREFIXES):
            continue
        if isinstance(value, str):
            value = value[:MAX_METADATA_CHARS]
        elif isinstance(value, list):
            value = [v[:MAX_METADATA_CHARS] if isinstance(v, str) else v for v in value]
        extra[key[:MAX_NAME_CHARS]] = value
    return extra


def _record(span: Span, service: str | None) -> SpanRecord | None:
    if len(span.trace_id) != 16 or len(span.span_id) != 8 or len(span.parent_span_id) not in (0, 8):
        return None
    attrs = _attributes(span)
    name = clean_text(span.name) or ""
    operation = attrs.get("gen_ai.operation.name")
    oi_kind = attrs.get("openinference.span.kind")
    oi_kind = oi_kind.upper() if isinstance(oi_kind, str) else None
    convention = "opentelemetry-genai" if isinstance(operation, str) else "openinference" if oi_kind else ""
    meta = _metadata_json(attrs.get("metadata")) if "metadata" in attrs else {}
    status_error = span.status.code == Status.STATUS_CODE_ERROR
    error_type = attrs.get("error.type")
    record = SpanRecord(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_id=span.parent_span_id or None,
        kind=SpanKind.OTHER,
        start_ns=span.start_time_unix_nano,
        end_ns=max(span.end_time_unix_nano, span.start_time_unix_nano),
        failed=status_error or error_type is not None,
        error=clean_text(span.status.message or error_type, MAX_METADATA_CHARS) if status_error or error_type else None,
        session=clean_text(_first(attrs, "gen_ai.conversation.id", "session.id") or meta.get("thread_id"), 64),
        convention=convention,
        service=service,
    )
    agent_id = clean_text(attrs.get("gen_ai.agent.id"))
    agent_name = clean_text(_first(attrs, "gen_ai.agent.name", "agent.name", "graph.node.name"))
    node_id = clean_text(attrs.get("graph.node.id"))
    graph_node = clean_text(meta.get("langgraph_node"))

    if operation == "handoff" or (oi_kind == "TOOL" and name.startswith(_HANDOFF_PREFIX)):
        record.kind = SpanKind.HANDOFF
        if operation == "handoff":
            record.handoff_from = clean_text(_first(attrs, "gen_ai.handoff.from_agent", "gen_ai.agent.name"))
            record.handoff_to = clean_text(attrs.get("gen_ai.handoff.to_agent"))
        else:
            record.handoff_from = clean_text(attrs.get("input.value"))
            record.handoff_to = clean_text(attrs.get("output.value")) or clean_text(name[len(_HANDOFF_PREFIX) :])
        return record
    if operation in _AGENT_OPERATIONS or oi_kind == "AGENT":
        key = agent_id or node_id or agent_name
        if key is not None:  # an agent span naming no agent is a workflow's: it shows no agent
            record.kind = SpanKind.AGENT
            record.agent, record.global_id = key, agent_id is not None
            record.agent_name = agent_name or key
            record.parent_agent = clean_text(_first(attrs, "graph.node.parent_id", "gen_ai.agent.handoff_parent"))
            record.attributes = _extra(attrs)
            return record
    elif oi_kind == "CHAIN" and graph_node is not None and graph_node == name:
        record.kind = SpanKind.AGENT
        record.agent = _graph_path(meta)
        record.agent_name = graph_node
        step = meta.get("langgraph_step")
        record.step = step if isinstance(step, int) and not isinstance(step, bool) else None
        record.convention = "openinference"
        triggers = meta.get("langgraph_triggers")
        if isinstance(triggers, list):
            record.attributes = {"langgraph_triggers": [clean_text(t) for t in triggers[:16] if isinstance(t, str)]}
        return record
    elif operation == "execute_tool" or oi_kind == "TOOL":
        record.kind = SpanKind.TOOL
        record.tool = clean_text(_first(attrs, "gen_ai.tool.name", "tool.name")) or name or "tool"
    elif operation in _LLM_OPERATIONS or oi_kind in _OI_LLM:
        record.kind = SpanKind.LLM
        record.tokens = _tokens(attrs)
        record.model = clean_text(_first(attrs, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name"))
    # A span that names its agent is that agent's, whatever its ancestors turn out to be.
    if agent_id is not None:
        record.agent, record.global_id, record.agent_name = agent_id, True, agent_name or agent_id
    elif agent_name is not None:
        record.agent, record.agent_name = agent_name, agent_name
    elif graph_node is not None:
        record.agent, record.agent_name = _graph_path(meta), graph_node
    return record


def read_spans(request: ExportTraceServiceRequest) -> SpanBatch:
    """Every span of a request as a ``SpanRecord``, in start order; spans with bad ids are counted, not kept."""
    records: list[SpanRecord] = []
    invalid = 0
    for resource_spans in request.resource_spans:
        service = None
        for kv in resource_spans.resource.attributes:
            if kv.key == "service.name":
                service = clean_text(_scalar(kv.value))
                break
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                record = _record(span, service)
                if record is None:
                    invalid += 1
                else:
                    records.append(record)
    records.sort(key=lambda r: r.start_ns)
    return SpanBatch(records, invalid)
