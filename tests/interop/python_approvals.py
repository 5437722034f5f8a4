"""An official MCP Python SDK client meets an approval gate at the enterprise endpoint /api/mcp.

Usage: python python_approvals.py TARGET MODE, with TARGET the endpoint's URL, or `stdio:` and the
path of alga-mcp-connector (relaying to the instance ALGA_INSTANCE_URL with ALGA_API_TOKEN), and
MODE one of
  modern  SDK 2.x `Client(mode="2026-07-28")`: the call's InputRequiredResult asks for a URL
          elicitation; the callback approves (or denies) through the admin API and accepts; one
          `call_tool` returns the final result (or the denial), the callback fired once in URL mode.
          Over HTTP, a tampered requestState, a retry with other arguments and a replay of a
          consumed approval's retry (each made by rewriting the SDK's own request on its way out)
          are refused, and nothing runs.
  legacy  SDK 1.x, or 2.x with `mode="legacy"` (2025-11-25), declaring URL elicitation: the call
          fails with -32042 carrying the approval; approved through the admin API, the identical
          retry runs once; a third identical call asks again.
The agent (ALGA_BEARER over HTTP) may update tickets; the enforced policy asks a person to approve ticket
titles containing "approval needed". ALGA_ADMIN_URL and ALGA_ADMIN_KEY reach the admin API.
Exits 0 when every step behaved, 1 with the reason otherwise.
"""

import asyncio
import copy
import contextlib
import importlib.metadata
import json
import os
import sys
import urllib.request

from checks import is_error, new_ticket, structured, title_of

import mcp
from mcp import types


def admin(method, path, body=None):
    request = urllib.request.Request(
        os.environ["ALGA_ADMIN_URL"] + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"x-api-key": os.environ["ALGA_ADMIN_KEY"], "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def decide(approval_id, approve):
    if approve:
        admin("POST", f"/api/v1/mcp/approvals/{approval_id}/approve", {})
    else:
        admin("POST", f"/api/v1/mcp/approvals/{approval_id}/deny", {"reason": "Not this title."})


def retitle(ticket, title):
    return {"entryId": "tickets.update", "path": {"id": ticket}, "body": {"title": title}}


# The `tools/call` requests the SDK 2.x sends over HTTP, and a rewrite applied to them while set.
OUTGOING = {"rewrite": None, "seen": []}


def Rewriting(httpx2):
    """An httpx transport that records each `tools/call` and rewrites it with OUTGOING["rewrite"]."""

    class Rewriting(httpx2.AsyncBaseTransport):
        def __init__(self):
            self.inner = httpx2.AsyncHTTPTransport()

        async def handle_async_request(self, request):
            if request.method == "POST":
                message = json.loads(await request.aread())
                if isinstance(message, dict) and message.get("method") == "tools/call":
                    OUTGOING["seen"].append(copy.deepcopy(message))
                    if OUTGOING["rewrite"] is not None:
                        content = json.dumps(OUTGOING["rewrite"](message)).encode()
                        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
                        request = httpx2.Request(
                            request.method, request.url, headers=headers, content=content, extensions=request.extensions
                        )
            return await self.inner.handle_async_request(request)

        async def aclose(self):
            await self.inner.aclose()

    return Rewriting()


@contextlib.asynccontextmanager
async def connected(target, mode, on_elicit):
    """A session with the endpoint or the connector: SDK 2.x `Client` in `mode`, or 1.x."""
    client_class = getattr(mcp, "Client", None)
    if target.startswith("stdio:"):
        from mcp import StdioServerParameters

        env = {k: os.environ[k] for k in ("ALGA_INSTANCE_URL", "ALGA_API_TOKEN", "PATH")}
        params = StdioServerParameters(command=target.removeprefix("stdio:"), args=[], env=env)
        if client_class is not None:
            async with client_class(params, mode=mode, elicitation_callback=on_elicit) as client:
                yield client
            return
        from mcp import ClientSession
        from mcp.client.stdio import stdio_client

        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, elicitation_callback=on_elicit) as session:
                await session.initialize()
                yield session
        return
    headers = {"Authorization": f"Bearer {os.environ['ALGA_BEARER']}"}
    if client_class is None:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(target, headers=headers) as (read, write, _):
            async with ClientSession(read, write, elicitation_callback=on_elicit) as session:
                await session.initialize()
                yield session
        return
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers=headers, transport=Rewriting(httpx2)) as http:
        transport = streamable_http_client(target, http_client=http)
        async with client_class(transport, mode=mode, elicitation_callback=on_elicit) as client:
            yield client


async def modern(target):
    fired = []
    verdict = {"approve": True}

    async def on_elicit(context, params):
        fired.append(params)
        assert params.mode == "url", params
        decide(params.url.rsplit("/", 1)[-1], verdict["approve"])
        return types.ElicitResult(action="accept")

    async with connected(target, "2026-07-28", on_elicit) as client:
        ticket = await new_ticket(client, "Approval subject (modern)")
        result = await client.call_tool("call_api_endpoint", retitle(ticket, "approval needed: modern"))
        assert not is_error(result) and structured(result)["status"] == 200, structured(result)
        assert len(fired) == 1, fired
        assert await title_of(client, ticket) == "approval needed: modern"

        verdict["approve"] = False
        result = await client.call_tool("call_api_endpoint", retitle(ticket, "approval needed: denied"))
        assert is_error(result), structured(result)
        assert "Not this title." in structured(result)["error"], structured(result)
        assert len(fired) == 2, fired
        assert await title_of(client, ticket) == "approval needed: modern"
        if not target.startswith("stdio:"):
            await refused_retries(client, ticket, fired, verdict)


async def refused_retries(client, ticket, fired, verdict):
    """A retry is refused, and nothing runs, when its state was tampered with, when it carries
    other arguments, and when it replays the retry of an approval already used."""
    verdict["approve"] = True
    ran = [m for m in OUTGOING["seen"] if m["params"].get("requestState")][0]

    async def refused_with(rewrite, what):
        def on_retry(message):
            return rewrite(message) if message["params"].get("requestState") else message

        OUTGOING["rewrite"] = on_retry
        # Each asks for its own approval: an approved call, made again identically, would just run.
        result = await client.call_tool("call_api_endpoint", retitle(ticket, f"approval needed: {what}"))
        OUTGOING["rewrite"] = None
        said = structured(result)
        assert is_error(result) and said["status"] == 400 and "requestState was refused" in said["error"], (what, said)
        assert await title_of(client, ticket) == "approval needed: modern", what

    def tampered(message):
        state = message["params"]["requestState"]
        message["params"]["requestState"] = state[:-2] + ("B" if state[-2] == "A" else "A") + state[-1]
        return message

    def other_arguments(message):
        message["params"]["arguments"]["body"]["title"] = "approval needed: other"
        return message

    await refused_with(tampered, "tampered")
    await refused_with(other_arguments, "other arguments")

    plain = await client.call_tool("call_api_endpoint", retitle(ticket, "plain title"))
    assert not is_error(plain), structured(plain)
    before = len(fired)

    def replay(message):
        message["params"]["requestState"] = ran["params"]["requestState"]
        message["params"]["inputResponses"] = ran["params"]["inputResponses"]
        return message

    OUTGOING["rewrite"] = replay
    replayed = await client.call_tool("call_api_endpoint", ran["params"]["arguments"])
    OUTGOING["rewrite"] = None
    assert is_error(replayed) and "approval was used" in structured(replayed)["error"], structured(replayed)
    assert len(fired) == before, "a replay asks nobody"
    assert await title_of(client, ticket) == "plain title"


async def expect_elicitation(session, arguments):
    """The call fails with -32042; returns the approval id it carries."""
    try:
        result = await session.call_tool("call_api_endpoint", arguments)
    except Exception as e:  # McpError (1.x) or MCPError (2.x)
        error = getattr(e, "error", None)
        assert error is not None and error.code == -32042, repr(e)
        data = error.data if isinstance(error.data, dict) else {}
        elicitation = data["elicitations"][0]
        assert elicitation["mode"] == "url" and elicitation["url"].endswith(elicitation["elicitationId"]), data
        return elicitation["elicitationId"]
    raise AssertionError(f"expected -32042, got {result}")


async def legacy_checks(session):
    ticket = await new_ticket(session, "Approval subject (legacy)")
    arguments = retitle(ticket, "approval needed: legacy")
    first = await expect_elicitation(session, arguments)
    decide(first, True)
    result = await session.call_tool("call_api_endpoint", arguments)
    assert not is_error(result) and structured(result)["status"] == 200, structured(result)
    assert await title_of(session, ticket) == "approval needed: legacy"
    third = await expect_elicitation(session, arguments)
    assert third != first, (first, third)


async def legacy(target):
    async def on_elicit(context, params):
        return types.ElicitResult(action="accept")

    async with connected(target, "legacy", on_elicit) as session:
        await legacy_checks(session)


if __name__ == "__main__":
    target, mode = sys.argv[1], sys.argv[2]
    try:
        asyncio.run({"modern": modern, "legacy": legacy}[mode](target))
    except Exception as e:  # report, do not hide
        print(f"python SDK approvals ({mode}) failed: {type(e).__name__}: {e!r}", file=sys.stderr)
        sys.exit(1)
    print(f"python SDK {importlib.metadata.version('mcp')} approvals ({mode}): ok")
