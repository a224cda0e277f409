"""pluggedin-mcp in a LangGraph agent (LangChain's `create_agent`, which runs on LangGraph,
with langchain-mcp-adapters), over stdio or Streamable HTTP.

    python examples/agents/langgraph_agent.py [--transport stdio|http] [--data-dir DIR]

Offline, a fake chat model (LangChain's model interface, answering with the calls of
task.py) plays the model in the agent graph; with PLUGGEDIN_AGENT_MODEL=openai:gpt-5 (and
`pip install langchain-openai`, OPENAI_API_KEY) a real model does the task.
The adapters open an MCP session per tool call unless told otherwise: over stdio that is a
pluggedin-mcp process per call, which the local data directory keeps consistent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain.agents import create_agent

import task


def text_of(message: ToolMessage) -> str:
    content = message.content
    if isinstance(content, list):
        return "\n".join(part.get("text", json.dumps(part)) if isinstance(part, dict) else str(part) for part in content)
    return str(content)


class ScriptedChatModel(BaseChatModel):
    """The model of the task: one tool call per turn, then 'done'."""

    report: Any = None
    only_count: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools, **kwargs):
        # What a real chat model does with the tools: convert each to the provider's format.
        self.report.tools_offered = len([convert_to_openai_tool(t) for t in tools])
        return self

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        seen = [m for m in messages if isinstance(m, ToolMessage)]
        step = self.report.next_call(
            [("error: " if m.status == "error" else "") + text_of(m) for m in seen]
        )
        if self.only_count or step is None:
            message = AIMessage(content="ok" if self.only_count else "done")
        else:
            name, args = step
            message = AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{len(seen)}"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


async def main() -> None:
    args = task.parse_args("LangGraph")
    report = task.Report("langgraph", args.transport, args.run_id)
    with task.http_server(args) as http:
        if http:
            connection = {"transport": "streamable_http", "url": http.url}
        else:
            connection = {
                "transport": "stdio",
                "command": task.binary(),
                "args": task.server_args(args.data_dir),
                "env": task.server_env(),
            }
        client = MultiServerMCPClient({"pluggedin": connection})
        with task.recording_warnings(report):
            tools = await client.get_tools()
            if task.real_model():
                from langchain.chat_models import init_chat_model

                model = init_chat_model(task.real_model())
            else:
                model = ScriptedChatModel(report=report, only_count=args.check_schemas)
            agent = create_agent(model, tools, system_prompt=task.INSTRUCTIONS.format(run=args.run_id))
            state = await agent.ainvoke({"messages": [("user", "Do the task.")]}, {"recursion_limit": 40})
        report.answer = str(state["messages"][-1].content)
    report.print()


if __name__ == "__main__":
    asyncio.run(main())
