"""An official MCP Python SDK client calls the enterprise endpoint /api/mcp over Streamable HTTP.

Usage: python python_remote.py URL MODE [CHECKS], with MODE one of
  bearer  SDK 1.x or 2.x (2.x in `auto` mode) with ALGA_BEARER as the Authorization header;
  oauth   SDK 2.x running its own client-credentials flow: 401, our protected-resource metadata,
          the provider (ALGA_OAUTH_ISSUER, ALGA_OAUTH_CLIENT_ID, ALGA_OAUTH_CLIENT_SECRET), retry.
and CHECKS one of
  basics    (the default) the tools, a search, a ticket, and a permission refusal;
  policies  under the enforced policy ALGA_POLICY_ID forbidding ticket titles containing
            ALGA_POLICY_WORD: that update refused naming the policy, another one saved.
The agent behind the credential has the Technician role: it may create tickets, not clients.
Exits 0 when every step behaved, 1 with the reason otherwise.
"""

import asyncio
import importlib.metadata
import os
import sys

from checks import denied, policy_refuses_by_name, tools_search_and_ticket

import mcp

NEGOTIATED = []


async def basics(session):
    await tools_search_and_ticket(session)
    await denied(session, "clients.create", {"name": "Not for technicians"})


async def policies(session):
    await policy_refuses_by_name(session, os.environ["ALGA_POLICY_ID"], os.environ["ALGA_POLICY_WORD"])


CHECKS = {"basics": basics, "policies": policies}


class MemoryStorage:
    """Token storage for the SDK's OAuth provider, in memory."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


async def main(url, mode, check):
    client_class = getattr(mcp, "Client", None)
    if client_class is None:
        # SDK 1.x: the legacy handshake, a bearer header on every request.
        from mcp import ClientSession
        from mcp.client.streamable_http import streamablehttp_client

        headers = {"Authorization": f"Bearer {os.environ['ALGA_BEARER']}"}
        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
                result = await session.initialize()
                NEGOTIATED.append(str(result.protocolVersion))
                await check(session)
        return
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    if mode == "oauth":
        from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

        auth = ClientCredentialsOAuthProvider(
            server_url=url,
            storage=MemoryStorage(),
            client_id=os.environ["ALGA_OAUTH_CLIENT_ID"],
            client_secret=os.environ["ALGA_OAUTH_CLIENT_SECRET"],
            # No scope: the SDK takes it from the resource's metadata (scopes_supported); the
            # provider refuses the `openid` it would otherwise fall back to.
            issuer=os.environ["ALGA_OAUTH_ISSUER"],
        )
        http = httpx2.AsyncClient(auth=auth)
    else:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {os.environ['ALGA_BEARER']}"})
    async with http:
        async with client_class(streamable_http_client(url, http_client=http), mode="auto") as client:
            NEGOTIATED.append(str(client.protocol_version))
            await check(client)


if __name__ == "__main__":
    url, mode = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "basics"
    try:
        asyncio.run(main(url, mode, CHECKS[name]))
    except Exception as e:  # report, do not hide
        print(f"python SDK remote interop ({mode}, {name}) failed: {type(e).__name__}: {e!r}", file=sys.stderr)
        sys.exit(1)
    version = importlib.metadata.version("mcp")
    print(f"python SDK {version} over HTTP ({mode}, {name}): ok (protocol {', '.join(NEGOTIATED)})")
