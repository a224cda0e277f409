"""The official MCP Python SDK's OAuth client (`OAuthClientProvider`, 1.x or 2.x, whichever
is installed) signing in to `pluggedin-mcp --auth oauth` the way a user does: discovery
from the 401, dynamic registration, the consent page (a browser stand-in ticks what is
offered and pastes the API key: `consent_browser.py`), the code exchange with PKCE — then tools over the token.

    python tests/clients/python_sdk_oauth.py --url http://127.0.0.1:PORT/mcp --key pg_in_…

Prints one JSON report line and fails on the first step that does not do what the SDK's
user expects.
"""

import argparse
import asyncio
import json
import sys
import urllib.parse
from importlib.metadata import version

from consent_browser import consent

from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

SDK = version("mcp")
MODERN_SDK = int(SDK.split(".")[0]) >= 2

if MODERN_SDK:
    import httpx2 as httpx
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import AuthorizationCodeResult
else:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

# Never reached: the browser stand-in reads where the server sends it back.
REDIRECT = "http://127.0.0.1:9/callback"


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """The user in the browser (`consent_browser.py`), and where it was sent back."""

    def __init__(self, key):
        self.key = key
        self.back = None
        self.offered = []

    async def open_page(self, url):
        location, self.offered = consent(url, self.key)
        if not location.startswith(REDIRECT):
            raise RuntimeError(f"sent back to {location}, not to the client")
        self.back = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))

    async def came_back(self):
        back = self.back
        if MODERN_SDK:
            return AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))
        return back["code"], back.get("state")


def text_of(result):
    return " ".join(getattr(block, "text", "") for block in result.content)


async def exercise(session, report):
    listed = await session.list_tools()
    names = sorted(tool.name for tool in listed.tools)
    report["tools"] = len(names)
    for needed in ("clipboard_set", "clipboard_get"):
        if needed not in names:
            raise RuntimeError(f"{needed} is not listed: {names}")
    result = await session.call_tool("clipboard_set", {"name": "python-oauth", "value": "signed in"})
    if getattr(result, "is_error", getattr(result, "isError", False)):
        raise RuntimeError(f"clipboard_set failed: {text_of(result)}")
    result = await session.call_tool("clipboard_get", {"name": "python-oauth"})
    if "signed in" not in text_of(result) and "signed in" not in json.dumps(
        getattr(result, "structured_content", None) or getattr(result, "structuredContent", None) or {}
    ):
        raise RuntimeError(f"clipboard_get did not read the value back: {text_of(result)}")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    browser = Browser(args.key)
    storage = Memory()
    provider = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="MCP Python SDK test",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.open_page,
        callback_handler=browser.came_back,
    )
    report = {"sdk": SDK}
    try:
        if MODERN_SDK:
            async with httpx.AsyncClient(auth=provider, follow_redirects=True) as http_client:
                async with Client(streamable_http_client(args.url, http_client=http_client)) as client:
                    await exercise(client, report)
        else:
            async with streamablehttp_client(args.url, auth=provider) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    await exercise(session, report)
        report["offered"] = browser.offered
        report["granted"] = storage.tokens.scope if storage.tokens else None
        report["refresh_token"] = bool(storage.tokens and storage.tokens.refresh_token)
        report["ok"] = True
    except BaseException as error:  # noqa: BLE001 - reported, then the run fails
        report["ok"] = False
        report["error"] = repr(error)[:2000]
        causes = getattr(error, "exceptions", None)
        if causes:
            report["causes"] = [repr(c)[:500] for c in causes]
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    asyncio.run(main())
