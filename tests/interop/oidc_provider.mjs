// A real OpenID provider for the interop checks: npm `oidc-provider` (panva), issuing
// client-credentials access tokens (JWT, ES256) for whatever resource the client names, with
// `aud` = that resource and `sub` = the client id.
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
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-es256', alg: 'ES256', use: 'sig' };
const clients = JSON.parse(process.env.ALGA_OIDC_CLIENTS).map((c) => ({
  ...c,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'ES256',
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [key] },
  scopes: ['openid', 'mcp'],
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        audience: resource,
        scope: 'mcp',
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
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${first.client_id}:${first.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: process.env.ALGA_TOKEN_RESOURCE, scope: 'mcp' }),
  });
  const { access_token } = await response.json();
  console.log(JSON.stringify({ issuer, access_token }));
});
