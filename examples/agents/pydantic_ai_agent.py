"""pluggedin-mcp in a Pydantic AI agent loop, over stdio or Streamable HTTP.

    python examples/agents/pydantic_ai_agent.py [--transport stdio|http] [--data-dir DIR]

Offline, Pydantic AI's own `FunctionModel` plays the model (the calls in task.py); with
PLUGGEDIN_AGENT_MODEL=openai:gpt-5 (and OPENAI_API_KEY) a real model does the task.
"""

from __future__ import annotations

import asyncio

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

import task


def tool_results(messages: list[ModelMessage]) -> list[str]:
    """What the tools answered so far, as the model sees it (errors included)."""
    out = []
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, ToolReturnPart):
                out.append(part.model_response_str())
            elif isinstance(part, RetryPromptPart) and part.tool_name:
                out.append(part.model_response())
    return out


def scripted(report: task.Report):
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        report.tools_offered = len(info.function_tools)
        call = report.next_call(tool_results(messages))
        if call:
            name, args = call
            return ModelResponse(parts=[ToolCallPart(tool_name=name, args=args)])
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(model)


async def main() -> None:
    args = task.parse_args("Pydantic AI")
    report = task.Report("pydantic-ai", args.transport, args.run_id)
    with task.http_server(args) as http:
        connection = http.url if http else StdioTransport(
            command=task.binary(), args=task.server_args(args.data_dir), env=task.server_env()
        )
        toolset = MCPToolset(connection)
        model = task.real_model() or scripted(report)
        agent = Agent(model, toolsets=[toolset], instructions=task.INSTRUCTIONS.format(run=args.run_id))
        with task.recording_warnings(report):
            if args.check_schemas:
                # The model's first turn receives every tool as Pydantic AI converted it.
                check = Agent(
                    FunctionModel(lambda m, info: _count(report, info)), toolsets=[toolset]
                )
                await check.run("list your tools")
            else:
                result = await agent.run("Do the task.")
                report.answer = str(result.output)
    report.print()


def _count(report: task.Report, info: AgentInfo) -> ModelResponse:
    report.tools_offered = len(info.function_tools)
    for tool in info.function_tools:
        assert tool.parameters_json_schema.get("type") == "object", tool.name
    return ModelResponse(parts=[TextPart("ok")])


if __name__ == "__main__":
    asyncio.run(main())
