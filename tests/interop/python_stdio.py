"""An official MCP Python SDK client drives alga-mcp-connector over stdio.

Usage: python python_stdio.py CONNECTOR_BINARY  (ALGA_INSTANCE_URL, ALGA_API_TOKEN and, for the
permission check, ALGA_READONLY_TOKEN in the environment). Works with SDK 1.x and 2.x; exits 0
when every step behaved, 1 with the reason otherwise.
"""

import asyncio
import importlib.metadata
import json
import os
import sys

import mcp
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def structured(result):
    # SDK 1.x names it structuredContent, 2.x structured_content.
    for name in ("structured_content", "structuredContent"):
        value = getattr(result, name, None)
        if value is not None:
            return value
    return json.loads(result.content[0].text)


def is_error(result):
    value = getattr(result, "is_error", None)
    return value if value is not None else result.isError


NEGOTIATED = []


async def session_for(connector, token, check):
    env = {"ALGA_INSTANCE_URL": os.environ["ALGA_INSTANCE_URL"], "ALGA_API_TOKEN": token, "PATH": os.environ.get("PATH", "")}
    params = StdioServerParameters(command=connector, args=[], env=env)
    client_class = getattr(mcp, "Client", None)
    if client_class is not None:
        # SDK 2.x: `auto` probes server/discover (the 2026-07-28 era) and falls back to initialize.
        async with client_class(params, mode=os.environ.get("ALGA_MCP_MODE", "auto")) as client:
            NEGOTIATED.append(str(client.protocol_version))
            await check(client)
        return
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            result = await session.initialize()
            NEGOTIATED.append(str(result.protocolVersion))
            await check(session)


async def main(connector):
    async def as_admin(session):
        tools = await session.list_tools()
        names = [t.name for t in tools.tools]
        assert names == ["search_api_registry", "search_business_data", "call_api_endpoint"], names

        found = structured(await session.call_tool("search_api_registry", {"query": "create a ticket"}))
        assert found["results"][0]["entryId"] == "tickets.create", found

        async def first_id(entry, query):
            answer = structured(await session.call_tool("call_api_endpoint", {"entryId": entry, "query": query}))
            assert answer["ok"], answer
            return answer["data"]["data"][0]["id"]

        board = await first_id("boards.list", {"limit": 1})
        client = await first_id("clients.list", {"limit": 1})
        priority = await first_id("priorities.list", {"limit": 1})
        body = {"title": "Made by the Python SDK", "board_id": board, "client_id": client, "priority_id": priority}
        created = await session.call_tool("call_api_endpoint", {"entryId": "tickets.create", "body": body})
        created_data = structured(created)
        assert not is_error(created) and created_data["status"] == 201, created_data
        ticket = created_data["data"]["data"]["id"]
        read = structured(await session.call_tool("call_api_endpoint", {"entryId": "tickets.get", "path": {"id": ticket}}))
        assert read["data"]["data"]["title"] == "Made by the Python SDK", read

    async def as_readonly(session):
        body = {"title": "x", "board_id": "b", "client_id": "c", "priority_id": "p"}
        denied = await session.call_tool("call_api_endpoint", {"entryId": "tickets.create", "body": body})
        assert is_error(denied), denied

    await session_for(connector, os.environ["ALGA_API_TOKEN"], as_admin)
    await session_for(connector, os.environ["ALGA_READONLY_TOKEN"], as_readonly)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except Exception as e:  # report, do not hide
        print(f"python SDK interop failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"python SDK {importlib.metadata.version('mcp')} interop: ok (protocol {', '.join(NEGOTIATED)})")
