// The official MCP TypeScript SDKs meet an approval gate at the enterprise endpoint /api/mcp.
//
// Usage: node ts_approvals.mjs URL MODE, with MODE one of
//   modern   client 2.x (`@modelcontextprotocol/client`) pinned to 2026-07-28: the call's
//            InputRequiredResult asks for a URL elicitation; the handler approves (or denies)
//            through the admin API and accepts; one `callTool` returns the final result (or the
//            denial), the handler fired once in URL mode. A tampered requestState, a retry with
//            other arguments and a replay of a consumed approval's retry (each made by rewriting
//            the client's own request on its way out) are refused, and nothing runs.
//   legacy   SDK 1.x, or client 2.x in its default era (2025-11-25), declaring URL elicitation:
//            -32042 carrying the approval; approved through the admin API, the identical retry
//            runs once; a third identical call asks again.
//   old      client 2.x offering only 2025-06-18: a tool error giving the approval's URL and id;
//            approved, the identical retry runs.
//   restart  client 2.x pinned to 2026-07-28: between the first call and its retry the server is
//            killed and started again (the handler prints {"restart": ID} and waits for a line on
//            stdin); approved afterwards, the retry with the sealed state runs.
// ALGA_CLIENT is `sdk1` (ALGA_NODE_MODULES holds @modelcontextprotocol/sdk) or `client2` (it holds
// @modelcontextprotocol/client). The agent (ALGA_BEARER) may update tickets; the enforced policy
// asks a person to approve ticket titles containing "approval needed". ALGA_ADMIN_URL and
// ALGA_ADMIN_KEY reach the admin API. Exits 0 when every step behaved, 1 with the reason.
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

const [url, mode] = process.argv.slice(2);
const flavour = process.env.ALGA_CLIENT;
const require = createRequire(path.join(process.env.ALGA_NODE_MODULES, "noop.js"));
const sdk = flavour === "sdk1"
  ? {
      ...(await import(require.resolve("@modelcontextprotocol/sdk/client/index.js"))),
      ...(await import(require.resolve("@modelcontextprotocol/sdk/client/streamableHttp.js"))),
      ...(await import(require.resolve("@modelcontextprotocol/sdk/types.js"))),
    }
  : await import(require.resolve("@modelcontextprotocol/client"));

function check(condition, what) {
  if (!condition) throw new Error(what);
}

async function admin(method, route, body) {
  const response = await fetch(process.env.ALGA_ADMIN_URL + route, {
    method,
    headers: { "x-api-key": process.env.ALGA_ADMIN_KEY, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  check(response.ok, `${method} ${route}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const decide = (id, approve) =>
  approve
    ? admin("POST", `/api/v1/mcp/approvals/${id}/approve`, {})
    : admin("POST", `/api/v1/mcp/approvals/${id}/deny`, { reason: "Not this title." });

/** Rewrites the body of each outgoing `tools/call` with `rewrite(message)` while one is set. */
const outgoing = { rewrite: null, seen: [], versions: new Set() };
async function rewritingFetch(input, init) {
  if (init?.body && typeof init.body === "string") {
    const message = JSON.parse(init.body);
    if (message.method === "tools/call") {
      outgoing.seen.push(structuredClone(message));
      outgoing.versions.add(new Headers(init.headers).get("mcp-protocol-version"));
      if (outgoing.rewrite) init = { ...init, body: JSON.stringify(outgoing.rewrite(message)) };
    }
  }
  return fetch(input, init);
}

async function connect({ versions, pinned, onElicit }) {
  const headers = { Authorization: `Bearer ${process.env.ALGA_BEARER}` };
  const transport = new sdk.StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, fetch: rewritingFetch });
  const options = { capabilities: { elicitation: { url: {} } } };
  if (versions) options.supportedProtocolVersions = versions;
  if (pinned) options.versionNegotiation = { mode: { pin: "2026-07-28" } };
  const client = new sdk.Client({ name: "alga-interop-approvals", version: "1.0.0" }, options);
  const handler = async (request) => onElicit(request.params);
  if (flavour === "sdk1") client.setRequestHandler(sdk.ElicitRequestSchema, handler);
  else client.setRequestHandler("elicitation/create", handler);
  await client.connect(transport);
  return client;
}

const answer = (result) => ({
  error: result.isError === true,
  data: result.structuredContent ?? JSON.parse(result.content[0].text),
});
const callApi = async (client, args) => answer(await client.callTool({ name: "call_api_endpoint", arguments: args }));

async function firstId(client, entryId) {
  const { data } = await callApi(client, { entryId, query: { limit: 1 } });
  check(data.ok, `${entryId}: ${JSON.stringify(data).slice(0, 300)}`);
  return data.data.data[0].id;
}

async function newTicket(client, title) {
  const body = {
    title,
    board_id: await firstId(client, "boards.list"),
    client_id: await firstId(client, "clients.list"),
    priority_id: await firstId(client, "priorities.list"),
  };
  const created = await callApi(client, { entryId: "tickets.create", body });
  check(!created.error && created.data.status === 201, `create: ${JSON.stringify(created.data).slice(0, 300)}`);
  return created.data.data.data.id;
}

async function titleOf(client, ticket) {
  const { data } = await callApi(client, { entryId: "tickets.get", path: { id: ticket } });
  return data.data.data.title;
}

const retitle = (ticket, title) => ({ entryId: "tickets.update", path: { id: ticket }, body: { title } });

/** The approval id at the end of an approval page's URL. */
const approvalOf = (pageUrl) => pageUrl.split("/").pop();

async function modern() {
  const fired = [];
  const verdict = { approve: true };
  const client = await connect({
    pinned: true,
    onElicit: async (params) => {
      fired.push(params);
      check(params.mode === "url", `elicitation mode ${params.mode}`);
      await decide(approvalOf(params.url), verdict.approve);
      return { action: "accept" };
    },
  });
  const ticket = await newTicket(client, "Approval subject (TypeScript, 2026-07-28)");

  const approved = await callApi(client, retitle(ticket, "approval needed: ts modern"));
  check(!approved.error && approved.data.status === 200, `approved: ${JSON.stringify(approved.data)}`);
  check(fired.length === 1, `the handler fired ${fired.length} times`);
  check((await titleOf(client, ticket)) === "approval needed: ts modern", "the approved update ran");
  // The retry that ran: the client's own request, with the state and its input responses.
  const ran = outgoing.seen.findLast((m) => m.params.requestState);
  check(ran, "the client retried with a requestState");

  verdict.approve = false;
  const denied = await callApi(client, retitle(ticket, "approval needed: ts denied"));
  check(denied.error && denied.data.error.includes("Not this title."), `denied: ${JSON.stringify(denied.data)}`);
  check(fired.length === 2, `the handler fired ${fired.length} times`);

  // A retry is refused when its state was tampered with, or when it carries other arguments.
  verdict.approve = true;
  // Each asks for its own approval: an approved call, made again identically, would just run.
  const refusedWith = async (rewrite, what) => {
    outgoing.rewrite = (m) => (m.params.requestState ? rewrite(m) : m);
    const refused = await callApi(client, retitle(ticket, `approval needed: ${what}`));
    outgoing.rewrite = null;
    check(refused.error && refused.data.status === 400, `${what}: ${JSON.stringify(refused.data)}`);
    check(refused.data.error.includes("requestState was refused"), `${what}: ${refused.data.error}`);
    check((await titleOf(client, ticket)) === "approval needed: ts modern", `${what} ran nothing`);
  };
  await refusedWith((m) => {
    const state = m.params.requestState;
    const flipped = state.at(-2) === "A" ? "B" : "A";
    m.params.requestState = state.slice(0, -2) + flipped + state.at(-1);
    return m;
  }, "a tampered requestState");
  await refusedWith((m) => {
    m.params.arguments.body.title = "approval needed: ts other";
    return m;
  }, "a retry with other arguments");

  // A replay of the retry that ran (same state, same arguments) finds its approval consumed.
  const plain = await callApi(client, retitle(ticket, "plain title"));
  check(!plain.error, `a title without approval: ${JSON.stringify(plain.data)}`);
  const before = fired.length;
  outgoing.rewrite = (m) => ({ ...m, params: { ...m.params, requestState: ran.params.requestState, inputResponses: ran.params.inputResponses } });
  const replayed = await callApi(client, ran.params.arguments);
  outgoing.rewrite = null;
  check(replayed.error && /approval was used/.test(replayed.data.error), `replay: ${JSON.stringify(replayed.data)}`);
  check(fired.length === before, "a replay asks nobody");
  check((await titleOf(client, ticket)) === "plain title", "the replay ran nothing");
  await client.close();
}

/** The call fails with -32042 carrying one URL elicitation; returns the approval id. */
async function expectElicitation(client, args) {
  try {
    const result = await client.callTool({ name: "call_api_endpoint", arguments: args });
    throw new Error(`expected -32042, got ${JSON.stringify(result).slice(0, 300)}`);
  } catch (e) {
    if (e.code !== -32042) throw e;
    const [elicitation] = e.elicitations ?? e.data?.elicitations ?? [];
    check(elicitation?.mode === "url" && elicitation.url.endsWith(elicitation.elicitationId), `-32042: ${JSON.stringify(e.data)}`);
    return elicitation.elicitationId;
  }
}

async function legacy() {
  const client = await connect({ onElicit: async () => ({ action: "accept" }) });
  const ticket = await newTicket(client, "Approval subject (TypeScript, 2025-11-25)");
  const args = retitle(ticket, "approval needed: ts legacy");
  const first = await expectElicitation(client, args);
  await decide(first, true);
  const ran = await callApi(client, args);
  check(!ran.error && ran.data.status === 200, `the retry: ${JSON.stringify(ran.data)}`);
  check((await titleOf(client, ticket)) === "approval needed: ts legacy", "the retry ran");
  const third = await expectElicitation(client, args);
  check(third !== first, "a third identical call asks anew");
  await client.close();
}

async function old() {
  const client = await connect({ versions: ["2025-06-18"], onElicit: async () => ({ action: "accept" }) });
  const ticket = await newTicket(client, "Approval subject (TypeScript, 2025-06-18)");
  const args = retitle(ticket, "approval needed: ts 2025-06-18");
  const pending = await callApi(client, args);
  const approval = pending.data.approval;
  check(pending.error && approval?.status === "pending" && approval.url.endsWith(approval.id), `pending: ${JSON.stringify(pending.data)}`);
  check(pending.data.error.includes("make the identical call again"), pending.data.error);
  check((await titleOf(client, ticket)) !== "approval needed: ts 2025-06-18", "nothing ran before approval");
  await decide(approval.id, true);
  const ran = await callApi(client, args);
  check(!ran.error && ran.data.status === 200, `the retry: ${JSON.stringify(ran.data)}`);
  check((await titleOf(client, ticket)) === "approval needed: ts 2025-06-18", "the retry ran");
  check([...outgoing.versions].join() === "2025-06-18", `calls made with ${[...outgoing.versions]}`);
  await client.close();
}

async function restart() {
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  let fired = 0;
  const client = await connect({
    pinned: true,
    onElicit: async (params) => {
      fired += 1;
      const id = approvalOf(params.url);
      console.log(JSON.stringify({ restart: id }));
      const { done } = await lines.next();
      check(!done, "no word that the server is back");
      await decide(id, true);
      return { action: "accept" };
    },
  });
  const ticket = await newTicket(client, "Approval subject (TypeScript, restart)");
  const ran = await callApi(client, retitle(ticket, "approval needed: across a restart"));
  check(!ran.error && ran.data.status === 200, `the retry after the restart: ${JSON.stringify(ran.data)}`);
  check(fired === 1, `the handler fired ${fired} times`);
  check((await titleOf(client, ticket)) === "approval needed: across a restart", "the retry ran");
  await client.close();
}

try {
  await { modern, legacy, old, restart }[mode]();
  console.error(`typescript ${flavour} approvals (${mode}): ok`);
  process.exit(0);
} catch (e) {
  console.error(`typescript ${flavour} approvals (${mode}) failed: ${e?.stack ?? e}`);
  process.exit(1);
}
