// The admin UI in a real browser (Debian's Chromium, headless, driven by playwright-core): the
// whole journey of an administrator, against the real enterprise server and a real OpenID
// provider. Run by `cargo xtask browser` (and `cargo xtask ci`), which starts both and passes:
//
//   ALGA_PLAYWRIGHT_MODULES  node_modules holding playwright-core
//   ALGA_CHROMIUM            the browser executable
//   ALGA_URL                 the server, e.g. http://127.0.0.1:PORT
//   ALGA_ADMIN_EMAIL, ALGA_ADMIN_PASSWORD   the bootstrap administrator and the one-time
//                                           password the server printed
//   ALGA_TECH_EMAIL, ALGA_TECH_PASSWORD     a user without the Admin role
//   ALGA_ISSUER, ALGA_CLIENT_ID, ALGA_CLIENT_SECRET   the provider and the agent's client
//   ALGA_SHOTS               where to save a screenshot of each page
//
// Exits non-zero at the first failed expectation, naming it.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const require = createRequire(path.join(env('ALGA_PLAYWRIGHT_MODULES'), 'noop.js'));
const { chromium } = require('playwright-core');

const base = env('ALGA_URL');
const shots = env('ALGA_SHOTS');
mkdirSync(shots, { recursive: true });
const endpoint = `${base}/api/mcp`;

const browser = await chromium.launch({
  executablePath: env('ALGA_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let step = 'starting';
const check = async (name, body) => {
  step = name;
  await body();
  console.log(`ok - ${name}`);
};

/** A client-credentials token from the provider for `resource`. */
async function token(resource) {
  const basic = Buffer.from(`${env('ALGA_CLIENT_ID')}:${env('ALGA_CLIENT_SECRET')}`).toString('base64');
  const response = await fetch(`${env('ALGA_ISSUER')}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'mcp:tools' }),
  });
  assert.equal(response.status, 200, 'the provider issues a token');
  return (await response.json()).access_token;
}

/** A tools/call of call_api_endpoint through `url` (default /api/mcp) with a bearer token (or an
 * API key in `x-api-key`); returns the HTTP status and body. */
async function toolCall(credential, scheme = 'bearer', url = endpoint) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      ...(scheme === 'bearer' ? { authorization: `Bearer ${credential}` } : { 'x-api-key': credential }),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'call_api_endpoint', arguments: { entryId: 'tickets.list', query: { limit: 2 } } },
    }),
  });
  return { status: response.status, body: await response.text() };
}

/** A 2026-07-28 tools/call of call_api_endpoint with a bearer token, declaring URL elicitation;
 * `extra` adds params (a retry's requestState and inputResponses). Returns the JSON-RPC result. */
async function modernCall(credential, args, extra = {}) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${credential}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'call_api_endpoint',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 2, method: 'tools/call',
      params: {
        name: 'call_api_endpoint', arguments: args, ...extra,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } },
          'io.modelcontextprotocol/clientInfo': { name: 'browser-test-agent', version: '1.0' },
        },
      },
    }),
  });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  return JSON.parse(body).result;
}

/** Opens a tab of the MCP server settings. */
async function tab(page, name) {
  await page.getByRole('navigation', { name: 'MCP server settings' }).getByRole('link', { name, exact: true }).click();
}

/** What the administrator chooses in place of the printed one-time password. */
const ownPassword = 'the administrator\'s own password 0123';

async function signIn(page, email, password) {
  await page.goto(`${base}/admin/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  await check('a wrong password shows the one generic error', async () => {
    await signIn(page, env('ALGA_ADMIN_EMAIL'), 'not the password at all');
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    assert.match(page.url(), /\/admin\/login/);
    await shot('login-error');
  });

  await check('the printed one-time password signs in only to choose a new one', async () => {
    await signIn(page, env('ALGA_ADMIN_EMAIL'), env('ALGA_ADMIN_PASSWORD'));
    await page.waitForURL(`${base}/admin/password`);
    await page.getByRole('heading', { level: 1, name: 'Change your password' }).waitFor();
    await page.getByText('You signed in with a one-time password').waitFor();
    await shot('password-forced');
    const elsewhere = await page.goto(`${base}/admin/mcp/agents`);
    assert.equal(new URL(elsewhere.url()).pathname, '/admin/password', 'every other page sends it back here');
  });

  await check('the new password must be given twice alike', async () => {
    await page.getByLabel('One-time password').fill(env('ALGA_ADMIN_PASSWORD'));
    await page.getByLabel('New password', { exact: true }).fill(ownPassword);
    await page.getByLabel('New password again').fill(`${ownPassword}!`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').filter({ hasText: 'The two new passwords differ.' }).waitFor();
    await shot('password-error');
  });

  await check('the administrator chooses their own password and continues', async () => {
    await page.getByLabel('One-time password').fill(env('ALGA_ADMIN_PASSWORD'));
    await page.getByLabel('New password', { exact: true }).fill(ownPassword);
    await page.getByLabel('New password again').fill(ownPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(`${base}/admin/mcp?done=password-changed`);
    await page.getByRole('status').filter({ hasText: 'Password changed.' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'MCP server' }).waitFor();
    await shot('overview');
  });

  await check('a custom identity provider is added from its issuer (OpenID discovery)', async () => {
    await tab(page, 'Identity providers');
    await page.getByLabel('Provider', { exact: true }).selectOption('custom');
    await page.getByLabel('Issuer').fill(env('ALGA_ISSUER'));
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByRole('status').filter({ hasText: 'Identity provider added.' }).waitFor();
    await page.getByRole('cell', { name: env('ALGA_ISSUER'), exact: true }).waitFor();
    await shot('identity-providers');
  });

  await check('an agent is bound to the client with the Technician role', async () => {
    await tab(page, 'Agents');
    await page.getByLabel('Name').fill('Browser agent');
    await page.getByLabel('Identity provider').selectOption({ label: `${env('ALGA_ISSUER')} (custom)` });
    await page.getByLabel('Agent ID at the provider').fill(env('ALGA_CLIENT_ID'));
    await page.getByRole('checkbox', { name: /^Technician/ }).check();
    await page.getByRole('button', { name: 'Add agent' }).click();
    await page.getByRole('heading', { level: 1, name: 'Agent: Browser agent' }).waitFor();
    assert.equal(await page.getByRole('checkbox', { name: /^Technician/ }).isChecked(), true);
    await shot('agent');
  });

  await check('an agent key is shown once and works on /api/mcp', async () => {
    await page.getByLabel('Description').last().fill('browser test key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByLabel('API key', { exact: true }).inputValue();
    assert.match(key, /^alga_/);
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    await shot('agent-key');
    const { status, body } = await toolCall(key, 'x-api-key');
    assert.equal(status, 200, body);
    assert.equal(JSON.parse(body).result.isError, false, body);
    await tab(page, 'Agents');
    await page.getByRole('link', { name: 'Browser agent' }).click();
    assert.equal(await page.getByLabel('API key', { exact: true }).count(), 0, 'the key is shown only once');
  });

  const bearer = await token(endpoint);
  await check('the agent calls a tool through /api/mcp with a token from the provider', async () => {
    const { status, body } = await toolCall(bearer);
    assert.equal(status, 200, body);
    const reply = JSON.parse(body);
    assert.equal(reply.result.isError, false, body);
  });

  await check("the Connect page's recommended endpoint takes the provider's token as registered", async () => {
    // The provider was registered with its default audience; the token is the one an agent gets
    // for it. Following the page's own recommendation must work the first time.
    await tab(page, 'Connect');
    const recommended = await page.getByLabel("This organization's endpoint (recommended)", { exact: true }).inputValue();
    const { status, body } = await toolCall(bearer, 'bearer', recommended);
    assert.equal(status, 200, body);
    assert.equal(JSON.parse(body).result.isError, false, body);
  });

  await check('the call shows under Activity, with its detail', async () => {
    await tab(page, 'Activity');
    await page.getByLabel('Agent').selectOption({ label: 'Browser agent' });
    await page.getByRole('button', { name: 'Filter' }).click();
    // Three calls: with the agent's key, then with its token on both endpoints.
    const row = page.getByRole('row').filter({ hasText: 'tickets.list' }).filter({ hasText: 'Browser agent' }).first();
    await row.getByText('allow').waitFor();
    await shot('activity');
    await row.getByRole('link').first().click();
    await page.getByRole('heading', { level: 1, name: 'Tool call' }).waitFor();
    await page.getByText('"entryId": "tickets.list"').waitFor();
    await shot('activity-detail');
  });

  await check('the CSV export holds the call', async () => {
    await tab(page, 'Activity');
    const href = await page.getByRole('link', { name: 'CSV' }).getAttribute('href');
    const response = await page.request.get(`${base}${href}`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /text\/csv/);
    const lines = (await response.text()).trim().split('\r\n');
    assert.match(lines[0], /^id,created_at,caller_kind,agent_id/);
    const calls = lines.slice(1).filter((l) => l.includes('"tickets.list"') && l.includes('"allow"'));
    assert.equal(calls.length, 3, lines.join('\n'));
  });

  await check('the doctor explains a token for another audience', async () => {
    await tab(page, 'IdP doctor');
    // A token for some other API: this organization's endpoint takes the provider's audience
    // (the instance-wide URL) or its own URL, and the doctor names both.
    const other = await token('https://elsewhere.example/api');
    await page.getByLabel('Access token (JWT)').fill(other);
    await page.getByLabel('Endpoint').selectOption('tenant');
    await page.getByRole('button', { name: 'Check token' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong audience' }).waitFor();
    await page.getByText(/Audience: The token is for https:\/\/elsewhere\.example\/api, but this endpoint expects .*\/api\/mcp or .*\/t\/default\/api\/mcp/).waitFor();
    await shot('doctor');
  });

  await check('the Connect page gives the endpoints and client configuration', async () => {
    await tab(page, 'Connect');
    assert.equal(await page.getByLabel("This organization's endpoint (recommended)", { exact: true }).inputValue(), `${base}/t/default/api/mcp`);
    await page.getByRole('heading', { name: 'Claude Code' }).waitFor();
    await shot('connect');
  });

  await check('the policies page inserts a template, saves it and shows the history', async () => {
    await tab(page, 'Policies');
    await page.getByText('No policies yet: roles alone decide.').waitFor();
    await page.getByText('Templates').click();
    await page.getByRole('button', { name: 'Insert the template No agent deletes anything' }).click();
    await page.getByRole('status').filter({ hasText: 'inserted, not saved yet' }).waitFor();
    assert.match(await page.getByLabel('Policies (Cedar)').inputValue(), /@id\("no-agent-deletes"\)/);
    await page.getByLabel('Shadow').check();
    await page.getByRole('button', { name: 'Save as version 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Policies saved as a new version' }).waitFor();
    await page.getByRole('button', { name: 'Save as version 2' }).waitFor();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await shot('policies');
  });

  await check('the policies page replays a draft on the audit', async () => {
    const editor = page.getByLabel('Policies (Cedar)');
    await editor.fill('@id("no-agent-lists")\nforbid (principal is Alga::Agent, action == Alga::Action::"tickets.list", resource);\n');
    await page.getByLabel('Days to look back').fill('7');
    await page.getByRole('button', { name: 'Replay the draft' }).click();
    await page.getByRole('heading', { name: 'Replay over the last 7 days' }).waitFor();
    // The agent's listings earlier in this journey would now be refused.
    const row = page.getByRole('row').filter({ hasText: 'tickets.list' }).filter({ hasText: 'Browser agent' });
    await row.getByText('allow → deny').first().waitFor();
    assert.match(await row.innerText(), /no-agent-lists/);
    assert.match(await editor.inputValue(), /no-agent-lists/, 'the draft stays in the editor, unsaved');
    await page.getByRole('button', { name: 'Save as version 2' }).waitFor();
    await shot('policy-replay');
  });

  const approvalPolicy = '@id("titles-need-approval")\n@approval("required")\n'
    + 'permit (principal is Alga::Agent, action == Alga::Action::"tickets.update", resource)\n'
    + 'when { context.body has title && context.body.title like "*approval needed*" };\n';
  await check('an enforced policy asks a person to approve some ticket titles', async () => {
    await page.getByLabel('Policies (Cedar)').fill(approvalPolicy);
    await page.getByLabel('Enforce').check();
    await page.getByRole('button', { name: 'Save as version 2' }).click();
    await page.getByRole('status').filter({ hasText: 'Policies saved as a new version' }).waitFor();
  });

  const listed = await modernCall(bearer, { entryId: 'tickets.list', query: { limit: 1 } });
  const ticket = listed.structuredContent.data.data[0].id;
  const retitle = (title) => ({ entryId: 'tickets.update', path: { id: ticket }, body: { title } });
  const titleNow = async () =>
    (await modernCall(bearer, { entryId: 'tickets.get', path: { id: ticket } })).structuredContent.data.data.title;
  const retry = (state) => ({ requestState: state, inputResponses: { approval: { action: 'accept' } } });

  /** The agent's call is asked to be approved: the page its URL elicitation names, and its state. */
  async function asked(title) {
    const first = await modernCall(bearer, retitle(title));
    assert.equal(first.resultType, 'input_required', JSON.stringify(first));
    const { params } = first.inputRequests.approval;
    assert.equal(params.mode, 'url');
    assert.ok(params.url.startsWith(`${base}/admin/approvals/`), params.url);
    return { url: params.url, state: first.requestState };
  }

  await check('an approver opens the page the agent was sent to, approves, and the retry runs', async () => {
    const { url, state } = await asked('approval needed: printer on floor 3');
    await page.goto(`${base}/admin/mcp`);
    await page.getByRole('navigation', { name: 'MCP server settings' }).getByLabel('1 pending').waitFor();
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: /^Approval / }).waitFor();
    await page.getByText('Browser agent').first().waitFor();
    await page.getByText('browser-test-agent 1.0', { exact: true }).waitFor();
    // The ticket as it is now: its number and current title.
    await page.getByText(/^T-\d+ /).first().waitFor();
    await page.getByText('tickets.update', { exact: true }).first().waitFor();
    await page.getByText('titles-need-approval', { exact: true }).waitFor();
    await page.getByText('"title": "approval needed: printer on floor 3"').waitFor();
    await shot('approval');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('approved', { exact: true }).first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0, 'a decided approval offers no decision');
    const ran = await modernCall(bearer, retitle('approval needed: printer on floor 3'), retry(state));
    assert.equal(ran.isError, false, JSON.stringify(ran));
    assert.equal(ran.structuredContent.status, 200, JSON.stringify(ran));
    assert.equal(await titleNow(), 'approval needed: printer on floor 3');
    const again = await modernCall(bearer, retitle('approval needed: printer on floor 3'), retry(state));
    assert.equal(again.isError, true, 'the state lets exactly one execution run');
  });

  await check('an approver denies with a reason, and the retry fails with it', async () => {
    const { url, state } = await asked('approval needed: delete the backups');
    await page.goto(url);
    await page.getByLabel('Why (told to the caller)').fill('Backups stay.');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('denied', { exact: true }).first().waitFor();
    await shot('approval-denied');
    const refused = await modernCall(bearer, retitle('approval needed: delete the backups'), retry(state));
    assert.equal(refused.isError, true, JSON.stringify(refused));
    assert.match(refused.structuredContent.error, /denied this call \(tickets\.update\): Backups stay\./);
    assert.equal(await titleNow(), 'approval needed: printer on floor 3', 'the denied call ran nothing');
    await tab(page, 'Approvals');
    await page.getByRole('heading', { level: 1, name: 'Approvals' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'MCP server settings' }).getByLabel(/pending/).count(), 0);
    await shot('approvals');
  });

  await check('a deactivated agent is refused on its next call', async () => {
    await tab(page, 'Agents');
    await page.getByRole('link', { name: 'Browser agent' }).click();
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('status').filter({ hasText: 'Agent deactivated' }).waitFor();
    const { status, body } = await toolCall(bearer);
    assert.equal(status, 403, body);
    assert.match(body, /deactivated/);
  });

  await check('a form posted without its CSRF token changes nothing', async () => {
    const response = await page.request.post(`${base}/admin/mcp/idps`, {
      form: { kind: 'custom', issuer: 'https://forged.example.com' },
    });
    assert.equal(response.status(), 403);
    await page.goto(`${base}/admin/mcp/idps`);
    assert.equal(await page.getByText('https://forged.example.com').count(), 0);
  });

  await check('the keyboard reaches the tabs and forms', async () => {
    await page.goto(`${base}/admin/mcp/agents`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    const labelled = await page.evaluate(() =>
      [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].every((c) => c.labels.length > 0));
    assert.equal(labelled, true, 'every control has a label');
  });

  await check('a user without the Admin role gets the 403 page', async () => {
    const other = await browser.newContext();
    const tech = await other.newPage();
    // Created with a password an administrator chose: it signs in once, to choose their own.
    await signIn(tech, env('ALGA_TECH_EMAIL'), env('ALGA_TECH_PASSWORD'));
    await tech.waitForURL(`${base}/admin/password`);
    await tech.getByLabel('One-time password').fill(env('ALGA_TECH_PASSWORD'));
    await tech.getByLabel('New password', { exact: true }).fill('the technician\'s own password 42');
    await tech.getByLabel('New password again').fill('the technician\'s own password 42');
    await tech.getByRole('button', { name: 'Change password' }).click();
    await tech.getByRole('heading', { name: 'Administrators only' }).waitFor();
    const response = await tech.goto(`${base}/admin/mcp/agents`);
    assert.equal(response.status(), 403);
    await tech.screenshot({ path: path.join(shots, 'forbidden.png'), fullPage: true });
    await other.close();
  });

  await check('signing in again after signing out: the one-time password is spent, the own one works', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login/);
    await shot('login');
    const response = await page.goto(`${base}/admin/mcp`);
    assert.match(response.url(), /\/admin\/login\?next=/);
    await signIn(page, env('ALGA_ADMIN_EMAIL'), env('ALGA_ADMIN_PASSWORD'));
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    await signIn(page, env('ALGA_ADMIN_EMAIL'), ownPassword);
    await page.waitForURL(`${base}/admin/mcp`);
    await page.getByRole('heading', { level: 1, name: 'MCP server' }).waitFor();
  });
  console.log('admin UI: all checks passed');
} catch (e) {
  console.error(`not ok - ${step}: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
