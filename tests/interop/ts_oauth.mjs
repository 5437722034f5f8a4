// The official MCP TypeScript SDK 2.x client (`@modelcontextprotocol/client`) running its own
// OAuth client-credentials flow (`ClientCredentialsProvider`) against the enterprise endpoint: it
// finds the authorization server and the scope to request in the resource's metadata, gets a token
// from the strict OpenID provider, and lists and calls tools as the agent.
//
// Usage: node ts_oauth.mjs URL  (ALGA_NODE_MODULES: where the package is installed;
// ALGA_OAUTH_ISSUER, ALGA_OAUTH_CLIENT_ID, ALGA_OAUTH_CLIENT_SECRET). Exits 0 when every step
// behaved, 1 with the reason.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.ALGA_NODE_MODULES, "noop.js"));
const { Client, ClientCredentialsProvider, StreamableHTTPClientTransport } = await import(
  require.resolve("@modelcontextprotocol/client")
);

function check(condition, what) {
  if (!condition) throw new Error(what);
}

try {
  const authProvider = new ClientCredentialsProvider({
    clientId: process.env.ALGA_OAUTH_CLIENT_ID,
    clientSecret: process.env.ALGA_OAUTH_CLIENT_SECRET,
    expectedIssuer: process.env.ALGA_OAUTH_ISSUER,
  });
  const transport = new StreamableHTTPClientTransport(new URL(process.argv[2]), { authProvider });
  const client = new Client({ name: "alga-interop-ts2-oauth", version: "1.0.0" });
  await client.connect(transport);
  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name).join(",");
  check(names === "search_api_registry,search_business_data,call_api_endpoint", `tools: ${names}`);
  const me = await client.callTool({ name: "call_api_endpoint", arguments: { entryId: "meta.me" } });
  const data = me.structuredContent ?? JSON.parse(me.content[0].text);
  check(me.isError !== true && data.data.data.agent, `meta.me: ${JSON.stringify(data).slice(0, 300)}`);
  check(authProvider.tokens()?.access_token, "the provider holds the token it obtained");
  await client.close();
  console.log(`typescript SDK 2.x client over HTTP (oauth client credentials): ok (agent ${data.data.data.agent.name})`);
} catch (e) {
  console.error(`typescript SDK 2.x client-credentials interop failed: ${e?.stack ?? e}`);
  process.exit(1);
}
