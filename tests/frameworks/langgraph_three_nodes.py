"""A three-node LangGraph graph (planner -> researcher -> writer) on fake chat models, traced by OpenInference.

The chat models are langchain_core's ``GenericFakeChatModel`` answering canned messages with
token usage; the researcher also calls a tool. Spans go out through the standard OTLP/HTTP
exporter to ``OTEL_EXPORTER_OTLP_ENDPOINT``; nothing in the graph knows about VisionFlow.
"""

from __future__ import annotations

import json
from typing import TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


class Essay(TypedDict):
    text: str


def fake_model(reply: str, input_tokens: int, output_tokens: int) -> GenericFakeChatModel:
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply, usage_metadata=usage)]))


@tool
def search_papers(query: str) -> str:
    """Find papers on a topic."""
    return f"three papers on {query}"


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "essay-graph"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # OTEL_EXPORTER_OTLP_ENDPOINT
    LangChainInstrumentor().instrument(tracer_provider=provider)

    planner_model = fake_model("outline: history, methods, outlook", 11, 4)
    researcher_model = fake_model("notes on the three papers", 13, 6)
    writer_model = fake_model("the essay", 17, 8)

    def planner(state: Essay) -> Essay:
        return {"text": str(planner_model.invoke(state["text"]).content)}

    def researcher(state: Essay) -> Essay:
        found = search_papers.invoke({"query": state["text"]})
        return {"text": str(researcher_model.invoke(found).content)}

    def writer(state: Essay) -> Essay:
        return {"text": str(writer_model.invoke(state["text"]).content)}

    graph = StateGraph(Essay)
    graph.add_node("planner", planner)
    graph.add_node("researcher", researcher)
    graph.add_node("writer", writer)
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "researcher")
    graph.add_edge("researcher", "writer")
    graph.add_edge("writer", END)
    result = graph.compile().invoke({"text": "force-directed layouts"})
    provider.force_flush()
    provider.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
