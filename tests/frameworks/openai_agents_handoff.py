"""A triage agent hands a billing question to a specialist, which calls a tool and hands back.

Runs the real OpenAI Agents SDK with a scripted model (the SDK's ``Model`` interface returning
canned responses, as its own tests do), traced by ``--instrumentation openinference`` or
``openllmetry``, exported by the standard OTLP/HTTP exporter to ``OTEL_EXPORTER_OTLP_ENDPOINT``.
Nothing in the agents knows about VisionFlow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, Runner, function_tool
from agents.items import ModelResponse
from agents.models.interface import Model, ModelTracing
from agents.tracing import response_span, set_trace_processors
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

Turn = tuple[list[Any], int, int]


class ScriptedModel(Model):
    """Answers each call with the next canned turn and reports its usage the way the SDK's OpenAI model does."""

    def __init__(self, name: str, turns: list[Turn]) -> None:
        self.name = name
        self.turns = list(turns)

    async def get_response(
        self, system_instructions: Any, input: Any, model_settings: Any, tools: Any, output_schema: Any,
        handoffs: Any, tracing: ModelTracing, *, previous_response_id: Any = None, conversation_id: Any = None,
        prompt: Any = None,
    ) -> ModelResponse:  # fmt: skip
        output, input_tokens, output_tokens = self.turns.pop(0)
        usage = ResponseUsage(input_tokens=input_tokens, output_tokens=output_tokens,
                              total_tokens=input_tokens + output_tokens,
                              input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                              output_tokens_details=OutputTokensDetails(reasoning_tokens=0))  # fmt: skip
        response = Response(id=f"resp-{self.name}-{len(self.turns)}", created_at=time.time(), model=self.name,
                            object="response", output=output, parallel_tool_calls=False, tool_choice="auto",
                            tools=[], usage=usage)  # fmt: skip
        with response_span(disabled=tracing.is_disabled()) as span:
            span.span_data.response = response
        return ModelResponse(output=output, response_id=response.id,
                             usage=Usage(requests=1, input_tokens=input_tokens, output_tokens=output_tokens,
                                         total_tokens=input_tokens + output_tokens))  # fmt: skip

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model does not stream")


def call(name: str, arguments: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(type="function_call", name=name, arguments=json.dumps(arguments),
                                    call_id=call_id, id=call_id)  # fmt: skip


def say(text: str) -> ResponseOutputMessage:
    content = [ResponseOutputText(type="output_text", text=text, annotations=[])]
    return ResponseOutputMessage(type="message", id="msg", role="assistant", status="completed", content=content)


@function_tool
def lookup_invoice(invoice_id: str) -> str:
    """Look an invoice up in the billing system."""
    return f"invoice {invoice_id} was paid on 3 March"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instrumentation", choices=["openinference", "openllmetry"], required=True)
    args = parser.parse_args()
    provider = TracerProvider(resource=Resource.create({"service.name": f"billing-desk-{args.instrumentation}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # OTEL_EXPORTER_OTLP_ENDPOINT
    set_trace_processors([])  # the SDK's own exporter would send traces to OpenAI's platform
    if args.instrumentation == "openinference":
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    else:
        from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor  # type: ignore[no-redef]
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)

    triage = Agent(name="Triage", instructions="Route billing questions to billing.")
    specialist = Agent(name="Billing specialist", instructions="Answer with the invoice tool, then hand back.",
                       tools=[lookup_invoice], handoffs=[triage])  # fmt: skip
    triage.handoffs = [specialist]
    triage.model = ScriptedModel("triage-model", [
        ([call("transfer_to_billing_specialist", {}, "c1")], 20, 3),
        ([say("Invoice 42 was paid on 3 March.")], 40, 9),
    ])  # fmt: skip
    specialist.model = ScriptedModel("specialist-model", [
        ([call("lookup_invoice", {"invoice_id": "42"}, "c2")], 30, 7),
        ([call("transfer_to_triage", {}, "c3")], 50, 5),
    ])  # fmt: skip
    result = asyncio.run(Runner.run(triage, "Was invoice 42 paid?"))
    provider.force_flush()
    provider.shutdown()
    print(json.dumps({"final_output": result.final_output, "last_agent": result.last_agent.name}))


if __name__ == "__main__":
    main()
