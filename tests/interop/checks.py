"""What every interop client checks, whatever the transport: the three tools, a search, a ticket
created and read back through call_api_endpoint, and a permission error as a tool error; and, for
a governed agent under an enforced policy set, a forbidden update refused as a tool error naming
the policy while an allowed one goes through."""

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


async def first_id(session, entry):
    answer = structured(await session.call_tool("call_api_endpoint", {"entryId": entry, "query": {"limit": 1}}))
    assert answer["ok"], answer
    return answer["data"]["data"][0]["id"]


async def new_ticket(session, title):
    """Creates a ticket on the first board, client and priority; returns its id."""
    board = await first_id(session, "boards.list")
    client = await first_id(session, "clients.list")
    priority = await first_id(session, "priorities.list")
    body = {"title": title, "board_id": board, "client_id": client, "priority_id": priority}
    created = await session.call_tool("call_api_endpoint", {"entryId": "tickets.create", "body": body})
    created_data = structured(created)
    assert not is_error(created) and created_data["status"] == 201, created_data
    return created_data["data"]["data"]["id"]


async def title_of(session, ticket):
    read = structured(await session.call_tool("call_api_endpoint", {"entryId": "tickets.get", "path": {"id": ticket}}))
    return read["data"]["data"]["title"]


async def tools_search_and_ticket(session):
    tools = await session.list_tools()
    names = [t.name for t in tools.tools]
    assert names == ["search_api_registry", "search_business_data", "call_api_endpoint"], names

    found = structured(await session.call_tool("search_api_registry", {"query": "create a ticket"}))
    assert found["results"][0]["entryId"] == "tickets.create", found

    ticket = await new_ticket(session, "Made by an MCP SDK")
    assert await title_of(session, ticket) == "Made by an MCP SDK"


async def policy_refuses_by_name(session, policy_id, word):
    """Under an enforced set forbidding ticket titles that contain `word`: renaming a ticket to such
    a title is a tool error (403) naming the policy and changes nothing; another title is saved."""
    ticket = await new_ticket(session, "Printer jammed again")

    def update(title):
        return {"entryId": "tickets.update", "path": {"id": ticket}, "body": {"title": title}}

    refused = await session.call_tool("call_api_endpoint", update(f"A {word} matter"))
    assert is_error(refused), refused
    said = refused.content[0].text
    assert f"`{policy_id}`" in said, said
    assert structured(refused)["status"] == 403, structured(refused)
    assert await title_of(session, ticket) == "Printer jammed again"

    allowed = await session.call_tool("call_api_endpoint", update("Printer jammed on floor 2"))
    assert not is_error(allowed) and structured(allowed)["status"] == 200, structured(allowed)
    assert await title_of(session, ticket) == "Printer jammed on floor 2"


async def denied(session, entry, body):
    answer = await session.call_tool("call_api_endpoint", {"entryId": entry, "body": body})
    assert is_error(answer), answer
