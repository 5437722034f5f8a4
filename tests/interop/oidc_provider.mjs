// A real OpenID provider for the interop checks: npm `oidc-provider` (panva), issuing
// client-credentials access tokens (JWT, ES256) for whatever resource the client names, with
// `aud` = that resource and `sub` = the client id. Configured like a real provider's API: its
// clients may request only the resource's scope `mcp:tools`; `openid` (which it still lists in
// its metadata) is refused for client credentials with `invalid_scope`, so an MCP client must
// learn the scope from the resource's metadata or challenge.
//
// Usage: node oidc_provider.mjs  (env ALGA_OIDC_MODULES: node_modules holding oidc-provider;
// ALGA_OIDC_CLIENTS: JSON list of {client_id, client_secret}; ALGA_TOKEN_RESOURCE: a resource to
// mint a token for, as the first client). Prints {"issuer", "access_token"} once ready.

import { createRequire } from 'node:module';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';

const require = createRequire(path.join(process.env.ALGA_OIDC_MODULES, 'noop.js'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const issuer = `http://127.0.0.1:${port}`;
const SCOPE = 'mcp:tools';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-es256', alg: 'ES256', use: 'sig' };
const clients = JSON.parse(process.env.ALGA_OIDC_CLIENTS).map((c) => ({
  ...c,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'ES256',
  scope: SCOPE,
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [key] },
  scopes: ['openid', SCOPE],
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        audience: resource,
        scope: SCOPE,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', async () => {
  const [first] = clients;
  const token = (scope) =>
    fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${first.client_id}:${first.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: process.env.ALGA_TOKEN_RESOURCE, scope }),
    }).then((r) => r.json());
  const openid = await token('openid');
  if (openid.error !== 'invalid_scope') {
    console.error(`the provider must refuse openid for client credentials: ${JSON.stringify(openid)}`);
    process.exit(1);
  }
  const { access_token } = await token(SCOPE);
  console.log(JSON.stringify({ issuer, access_token }));
});
