"""The task every example runs through pluggedin-mcp, and what the examples share.

The task: deploy a PAP agent and wait for it, check it, record a finding as a document,
search it back, look for a clipboard entry that is not there (the tool answers with an
error, which the framework must hand to the model, not raise), and keep a working note in
the clipboard. No model API is reachable offline, so each framework's own test model plays
the model: it makes exactly the tool calls below, in order, one per turn, and then answers.
Set PLUGGEDIN_AGENT_MODEL (e.g. `openai:gpt-5`, with its API key) to let a real model do
the same task from the instructions instead.

With `--hub`, pluggedin-mcp also runs the user's own MCP server (the repository's fixture
server, as `fixture`) behind it, and the task calls one of that server's tools through the
hub: what a framework that takes its tool list once, right after connecting, must see.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

INSTRUCTIONS = (
    "You work through the pluggedin-mcp tools. Deploy a PAP agent named {run}-scout and wait "
    "until it is active, check its status, record a finding as a document titled "
    "'Finding {run}' that mentions the marker {run}, search the documents for {run}, read the "
    "clipboard entry missing-{run} (it does not exist: that is expected), then store a working "
    "note in the clipboard under note-{run}. Answer 'done' when finished."
)

#: With `--hub`: the servers file naming the downstream fixture server (set by parse_args).
HUB_SERVERS: str | None = None
#: The downstream tool the task calls through the hub, under its hub name.
HUB_TOOL = "fixture__echo"


def steps(run: str) -> list[tuple[str, dict]]:
    """The tool calls a model makes for the task, in order. Local mode runs no container:
    the agent turns ACTIVE at its first heartbeat, which the model sends for it."""
    hub = [(HUB_TOOL, {"text": f"hub {run}"})] if HUB_SERVERS else []
    return hub + [
        ("create_agent", {"name": f"{run}-scout"}),
        ("agent_heartbeat", {"agent": f"{run}-scout", "uptime_seconds": 5}),
        ("agent_status", {"agent": f"{run}-scout"}),
        (
            "create_doc",
            {
                "title": f"Finding {run}",
                "content": f"The scout reports marker {run}: all systems nominal.",
                "tags": ["finding"],
            },
        ),
        ("search_docs", {"query": run}),
        ("clipboard_get", {"name": f"missing-{run}"}),
        ("clipboard_set", {"name": f"note-{run}", "value": note(run)}),
    ]


def note(run: str) -> str:
    return f"working note: finding {run} recorded and found again"


@dataclass
class Report:
    """What the example saw, printed as JSON for the tests."""

    framework: str
    transport: str
    run: str
    tools_offered: int = 0
    tool_results: list[str] = field(default_factory=list)
    answer: str = ""
    schema_warnings: list[str] = field(default_factory=list)

    def next_call(self, seen: list[str]) -> tuple[str, dict] | None:
        """The scripted model's turn: records what the tools answered so far (`seen`, as the
        model sees it) and gives the next call of the task, or None when it is done."""
        self.tool_results = seen
        calls = steps(self.run)
        return calls[len(seen)] if len(seen) < len(calls) else None

    def result_of(self, tool: str) -> str:
        """What `tool` answered, as the model saw it ("" if it was not called)."""
        names = [name for name, _ in steps(self.run)]
        at = names.index(tool)
        return self.tool_results[at] if at < len(self.tool_results) else ""

    def checks(self) -> dict[str, bool]:
        status = self.result_of("agent_status").replace(" ", "")
        return {
            # agent_status's structured answer reached the model whole: the agent is ACTIVE.
            "structured_intact": '"state":"ACTIVE"' in status and f"{self.run}-scout" in status,
            # search_docs found the document just written.
            "found_again": f"Finding {self.run}" in self.result_of("search_docs"),
            # The isError answer of clipboard_get reached the model as a tool error.
            "error_reached_model": "404" in self.result_of("clipboard_get"),
            "all_steps": len(self.tool_results) == len(steps(self.run)) and self.answer == "done",
        } | (
            # The downstream server's tool answered through the hub (as text or as its
            # structured answer, depending on the adapter).
            {"hub_reached": all(s in self.result_of(HUB_TOOL) for s in ("fixture", f"hub {self.run}"))}
            if HUB_SERVERS
            else {}
        )

    def print(self) -> None:
        out = {**self.__dict__, "checks": self.checks()}
        print(json.dumps(out, indent=2))


def parse_args(framework: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=f"pluggedin-mcp in a {framework} agent loop")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--data-dir", help="local-mode data directory (default: a new temporary one)")
    parser.add_argument("--run-id", default=None, help="marker used in names (default: random)")
    parser.add_argument(
        "--check-schemas",
        action="store_true",
        help="only load every tool through the adapter and report conversion problems",
    )
    parser.add_argument(
        "--hub",
        action="store_true",
        help="run the repository's fixture MCP server behind pluggedin-mcp and call one of its tools",
    )
    args = parser.parse_args()
    args.run_id = args.run_id or f"run{uuid.uuid4().hex[:8]}"
    args.data_dir = args.data_dir or tempfile.mkdtemp(prefix="pluggedin-agents-")
    if args.hub:
        global HUB_SERVERS
        HUB_SERVERS = write_hub_servers(args.data_dir)
    return args


def write_hub_servers(data_dir: str) -> str:
    """A servers file with the fixture server ($PLUGGEDIN_HUB_FIXTURE, or this repo's build)."""
    fixture = os.environ.get("PLUGGEDIN_HUB_FIXTURE") or str(
        REPO / "target" / "debug" / "examples" / "hub_fixture_server"
    )
    if not Path(fixture).exists():
        sys.exit(f"{fixture} is missing: run `cargo build --examples` or set PLUGGEDIN_HUB_FIXTURE")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "servers.json")
    with open(path, "w") as f:
        json.dump({"mcpServers": {"fixture": {"command": fixture, "env": {"FIXTURE_LABEL": "fixture"}}}}, f)
    return path


def binary() -> str:
    """pluggedin-mcp: $PLUGGEDIN_MCP_BIN, this repo's build, or the one on PATH."""
    if os.environ.get("PLUGGEDIN_MCP_BIN"):
        return os.environ["PLUGGEDIN_MCP_BIN"]
    for profile in ("debug", "release"):
        candidate = REPO / "target" / profile / "pluggedin-mcp"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("pluggedin-mcp")
    if not found:
        sys.exit("pluggedin-mcp not found: run `cargo build` or set PLUGGEDIN_MCP_BIN")
    return found


def server_args(data_dir: str) -> list[str]:
    """Local mode (the embedded API) over `data_dir`: no account, no network; with `--hub`,
    the fixture server behind it."""
    hub = ["--servers", HUB_SERVERS] if HUB_SERVERS else []
    return ["--local", "--data-dir", data_dir, *hub]


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGGEDIN_API")}
    env.setdefault("RUST_LOG", "warn")
    return env


class HttpServer:
    """pluggedin-mcp over Streamable HTTP on a free loopback port, for the HTTP examples."""

    def __init__(self, data_dir: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [binary(), "--transport", "http", "--port", str(self.port), *server_args(data_dir)],
            env=server_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    sys.exit("pluggedin-mcp did not start serving HTTP")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> "HttpServer":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def http_server(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The HTTP server for `--transport http` (None for stdio), stopped on exit."""
    return HttpServer(args.data_dir) if args.transport == "http" else contextlib.nullcontext()


@contextlib.contextmanager
def recording_warnings(report: Report):
    """Every warning raised inside (schema conversion among them) goes into the report."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    report.schema_warnings = [str(w.message) for w in caught]


def real_model() -> str | None:
    """The real model to use instead of the scripted one, if the user named one."""
    return os.environ.get("PLUGGEDIN_AGENT_MODEL") or None
