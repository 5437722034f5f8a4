// The official MCP TypeScript SDK as a client, over stdio (the connector) or Streamable HTTP
// (the enterprise endpoint).
//
// Usage: node ts_client.mjs stdio CONNECTOR_BINARY  (ALGA_INSTANCE_URL, ALGA_API_TOKEN and
//        ALGA_READONLY_TOKEN in the environment), or
//        node ts_client.mjs http URL  (ALGA_BEARER: a token for a Technician agent).
// ALGA_NODE_MODULES names where @modelcontextprotocol/sdk is installed. Exits 0 when every step
// behaved, 1 with the reason.
import path from "node:path";
import { pathToFileURL } from "node:url";

const sdk = (file) =>
  import(pathToFileURL(path.join(process.env.ALGA_NODE_MODULES, "@modelcontextprotocol/sdk/dist/esm", file)).href);
const { Client } = await sdk("client/index.js");
const { StdioClientTransport } = await sdk("client/stdio.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const [mode, target] = process.argv.slice(2);

function check(condition, what) {
  if (!condition) throw new Error(what);
}

function transportFor(token) {
  if (mode === "http") {
    return new StreamableHTTPClientTransport(new URL(target), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
  }
  return new StdioClientTransport({
    command: target,
    args: [],
    env: { ALGA_INSTANCE_URL: process.env.ALGA_INSTANCE_URL, ALGA_API_TOKEN: token, PATH: process.env.PATH },
    stderr: "ignore",
  });
}

async function session(token, work) {
  const transport = transportFor(token);
  const client = new Client({ name: "alga-interop", version: "1.0.0" });
  await client.connect(transport);
  try {
    await work(client);
  } finally {
    await client.close();
  }
  return client;
}

const call = async (client, name, args) => {
  const result = await client.callTool({ name, arguments: args });
  return { error: result.isError === true, data: result.structuredContent ?? JSON.parse(result.content[0].text) };
};

try {
  let version = "";
  const primary = mode === "http" ? process.env.ALGA_BEARER : process.env.ALGA_API_TOKEN;
  await session(primary, async (client) => {
    version = client.getServerVersion()?.name ?? "";
    const tools = await client.listTools();
    const names = tools.tools.map((t) => t.name).join(",");
    check(names === "search_api_registry,search_business_data,call_api_endpoint", `tools: ${names}`);
    const found = await call(client, "search_api_registry", { query: "create a ticket" });
    check(found.data.results[0].entryId === "tickets.create", `search: ${JSON.stringify(found.data).slice(0, 300)}`);
    const first = async (entryId, query) => {
      const answer = await call(client, "call_api_endpoint", { entryId, query });
      check(answer.data.ok, `${entryId}: ${JSON.stringify(answer.data).slice(0, 300)}`);
      return answer.data.data.data[0].id;
    };
    const body = {
      title: "Made by an MCP SDK",
      board_id: await first("boards.list", { limit: 1 }),
      client_id: await first("clients.list", { limit: 1 }),
      priority_id: await first("priorities.list", { limit: 1 }),
    };
    const created = await call(client, "call_api_endpoint", { entryId: "tickets.create", body });
    check(!created.error && created.data.status === 201, `create: ${JSON.stringify(created.data).slice(0, 300)}`);
    const id = created.data.data.data.id;
    const read = await call(client, "call_api_endpoint", { entryId: "tickets.get", path: { id } });
    check(read.data.data.data.title === "Made by an MCP SDK", "read back");
  });
  if (mode === "http") {
    await session(primary, async (client) => {
      const denied = await call(client, "call_api_endpoint", { entryId: "clients.create", body: { name: "x" } });
      check(denied.error && denied.data.status === 403, `a Technician cannot create clients: ${JSON.stringify(denied.data)}`);
    });
  } else {
    await session(process.env.ALGA_READONLY_TOKEN, async (client) => {
      const denied = await call(client, "call_api_endpoint", {
        entryId: "tickets.create",
        body: { title: "x", board_id: "b", client_id: "c", priority_id: "p" },
      });
      check(denied.error, "a Read-only key cannot create tickets");
    });
  }
  console.log(`typescript SDK interop (${mode}): ok (server ${version})`);
} catch (e) {
  console.error(`typescript SDK interop failed: ${e?.stack ?? e}`);
  process.exit(1);
}
