"""An official MCP Python SDK client drives alga-mcp-connector over stdio.

Usage: python python_stdio.py COMMAND [ARG...], the command that starts the connector (its binary,
or `npx` or `node` running its npm package), with ALGA_INSTANCE_URL, ALGA_API_TOKEN and, for the
permission check, ALGA_READONLY_TOKEN in the environment. Works with SDK 1.x and 2.x; exits 0
when every step behaved, 1 with the reason otherwise.
"""

import asyncio
import importlib.metadata
import os
import sys

from checks import denied, tools_search_and_ticket

import mcp
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


NEGOTIATED = []


async def session_for(command, token, check):
    env = {"ALGA_INSTANCE_URL": os.environ["ALGA_INSTANCE_URL"], "ALGA_API_TOKEN": token, "PATH": os.environ.get("PATH", "")}
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
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


async def main(command):
    async def as_readonly(session):
        await denied(session, "tickets.create", {"title": "x", "board_id": "b", "client_id": "c", "priority_id": "p"})

    await session_for(command, os.environ["ALGA_API_TOKEN"], tools_search_and_ticket)
    await session_for(command, os.environ["ALGA_READONLY_TOKEN"], as_readonly)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except Exception as e:  # report, do not hide
        print(f"python SDK interop failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"python SDK {importlib.metadata.version('mcp')} interop: ok (protocol {', '.join(NEGOTIATED)})")
