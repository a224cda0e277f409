"""pluggedin-mcp in a Pydantic AI agent loop, over stdio or Streamable HTTP.

    python examples/agents/pydantic_ai_agent.py [--transport stdio|http] [--data-dir DIR]

Offline, Pydantic AI's own `FunctionModel` plays the model (the calls in task.py); with
PLUGGEDIN_AGENT_MODEL=openai:gpt-5 (and OPENAI_API_KEY) a real model does the task.
"""

from __future__ import annotations

import asyncio
import warnings

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
    calls = task.steps(report.run)

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        report.tools_offered = len(info.function_tools)
        seen = tool_results(messages)
        report.tool_results = seen
        if len(seen) < len(calls):
            name, args = calls[len(seen)]
            return ModelResponse(parts=[ToolCallPart(tool_name=name, args=args)])
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(model)


async def main() -> None:
    args = task.parse_args("Pydantic AI")
    report = task.Report("pydantic-ai", args.transport, args.run_id)
    server = None
    if args.transport == "stdio":
        connection = StdioTransport(
            command=task.binary(), args=task.server_args(args.data_dir), env=task.server_env()
        )
    else:
        server = task.HttpServer(args.data_dir)
        connection = server.url
    try:
        toolset = MCPToolset(connection)
        model = task.real_model() or scripted(report)
        agent = Agent(model, toolsets=[toolset], instructions=task.INSTRUCTIONS.format(run=args.run_id))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.check_schemas:
                # The model's first turn receives every tool as Pydantic AI converted it.
                check = Agent(
                    FunctionModel(lambda m, info: _count(report, info)), toolsets=[toolset]
                )
                await check.run("list your tools")
            else:
                result = await agent.run("Do the task.")
                report.answer = str(result.output)
        report.schema_warnings = [str(w.message) for w in caught]
    finally:
        if server:
            server.close()
    report.print()


def _count(report: task.Report, info: AgentInfo) -> ModelResponse:
    report.tools_offered = len(info.function_tools)
    for tool in info.function_tools:
        assert tool.parameters_json_schema.get("type") == "object", tool.name
    return ModelResponse(parts=[TextPart("ok")])


if __name__ == "__main__":
    asyncio.run(main())
