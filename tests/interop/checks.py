"""What every interop client checks, whatever the transport: the three tools, a search, a ticket
created and read back through call_api_endpoint, and a permission error as a tool error."""

import json


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


async def tools_search_and_ticket(session):
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
    body = {"title": "Made by an MCP SDK", "board_id": board, "client_id": client, "priority_id": priority}
    created = await session.call_tool("call_api_endpoint", {"entryId": "tickets.create", "body": body})
    created_data = structured(created)
    assert not is_error(created) and created_data["status"] == 201, created_data
    ticket = created_data["data"]["data"]["id"]
    read = structured(await session.call_tool("call_api_endpoint", {"entryId": "tickets.get", "path": {"id": ticket}}))
    assert read["data"]["data"]["title"] == "Made by an MCP SDK", read


async def denied(session, entry, body):
    answer = await session.call_tool("call_api_endpoint", {"entryId": entry, "body": body})
    assert is_error(answer), answer
