"""pluggedin-mcp in an OpenAI Agents SDK loop, over stdio or Streamable HTTP.

    python examples/agents/openai_agents_agent.py [--transport stdio|http] [--data-dir DIR]

Offline, a scripted `Model` (the SDK's model interface, answering with the calls of task.py)
plays the model; with PLUGGEDIN_AGENT_MODEL=gpt-5 (and OPENAI_API_KEY) a real model does it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agents import Agent, Runner, set_tracing_disabled
from agents.items import ModelResponse
from agents.mcp import MCPServerStdio, MCPServerStreamableHttp
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

import task


def tool_results(items: Any) -> list[str]:
    """What the tools answered so far, as the model receives it (errors included)."""
    if isinstance(items, str):
        return []
    out = []
    for item in items:
        item = item if isinstance(item, dict) else item.model_dump()
        if item.get("type") == "function_call_output":
            output = item.get("output")
            if isinstance(output, list):
                # Content blocks, as the SDK hands MCP results on: their texts are the answer.
                output = "\n".join(str(part.get("text", part)) for part in output)
            out.append(output if isinstance(output, str) else json.dumps(output))
    return out


class ScriptedModel(Model):
    """The model of the task: one tool call per turn, then 'done'."""

    def __init__(self, report: task.Report, only_count: bool = False):
        self.report = report
        self.only_count = only_count

    async def get_response(self, system_instructions, input, model_settings, tools, *args, **kwargs):
        self.report.tools_offered = len(tools)
        seen = tool_results(input)
        step = self.report.next_call(seen)
        if self.only_count or step is None:
            return _answer("done" if not self.only_count else "ok")
        name, arguments = step
        call = ResponseFunctionToolCall(
            id=f"fc_{len(seen)}",
            call_id=f"call_{len(seen)}",
            name=name,
            arguments=json.dumps(arguments),
            type="function_call",
            status="completed",
        )
        return ModelResponse(output=[call], usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError("the examples do not stream")


def _answer(text: str) -> ModelResponse:
    message = ResponseOutputMessage(
        id="msg_done",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[])],
        role="assistant",
        status="completed",
        type="message",
    )
    return ModelResponse(output=[message], usage=Usage(), response_id=None)


async def main() -> None:
    args = task.parse_args("OpenAI Agents SDK")
    report = task.Report("openai-agents", args.transport, args.run_id)
    options = {"cache_tools_list": True, "client_session_timeout_seconds": 30}
    with task.http_server(args) as http:
        if http:
            server = MCPServerStreamableHttp(params={"url": http.url}, **options)
        else:
            params = {
                "command": task.binary(),
                "args": task.server_args(args.data_dir),
                "env": task.server_env(),
            }
            server = MCPServerStdio(params=params, **options)
        async with server:
            if not task.real_model():
                # Offline: traces would go to OpenAI's platform, which needs a key.
                set_tracing_disabled(True)
            model = task.real_model() or ScriptedModel(report, only_count=args.check_schemas)
            agent = Agent(
                name="scout",
                instructions=task.INSTRUCTIONS.format(run=args.run_id),
                mcp_servers=[server],
                model=model,
            )
            with task.recording_warnings(report):
                result = await Runner.run(agent, "Do the task.", max_turns=20)
            report.answer = str(result.final_output)
    report.print()


if __name__ == "__main__":
    asyncio.run(main())
