#!/usr/bin/env python3
"""A browser stand-in for the OAuth tests: does what a user does on pluggedin-mcp's consent
page — opens it, leaves every box ticked, pastes the API key, submits — and reads where the
server sends the browser back (the client's redirect URI, with the code).

As `$BROWSER` for a client that opens a real browser (mcp-remote), it then goes there too:

    CONSENT_API_KEY=pg_in_… consent_browser.py URL

The key comes from `CONSENT_API_KEY`; the answer's query is printed on stderr.
"""

import http.cookiejar
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class Stay(urllib.request.HTTPRedirectHandler):
    """A redirect is read, not followed."""

    def redirect_request(self, *args, **kwargs):
        return None


def fetch(opener, request):
    try:
        with opener.open(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def consent(url, key):
    """Consents on the page at `url` with `key`; returns (the redirect back, the scopes
    the page offered)."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), Stay
    )
    status, _, html = fetch(opener, url)
    if status != 200:
        raise RuntimeError(f"the consent page answered {status}: {html[:300]}")
    ticket = re.search(r'name="ticket" value="([^"]+)"', html).group(1)
    offered = re.findall(r'name="scope" value="([^"]+)"', html)
    fields = [("ticket", ticket), ("action", "api_key"), ("api_key", key)]
    fields += [("scope", scope) for scope in offered]
    origin = url.split("/oauth/")[0]
    form = urllib.request.Request(
        origin + "/oauth/authorize", data=urllib.parse.urlencode(fields).encode(), method="POST"
    )
    status, headers, html = fetch(opener, form)
    if status not in (302, 303):
        raise RuntimeError(f"the consent form answered {status}: {html[:300]}")
    return headers["Location"], offered


if __name__ == "__main__":
    back, _ = consent(sys.argv[1], os.environ["CONSENT_API_KEY"])
    print(f"consent_browser: back to {urllib.parse.urlparse(back).path}", file=sys.stderr)
    with urllib.request.urlopen(back, timeout=10) as resp:
        resp.read()
