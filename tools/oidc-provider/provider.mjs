// A real OpenID Provider (the certified `oidc-provider` package) for local runs and tests.
//
//   node provider.mjs <port> [signing-key.pem]
//
// Issuer: http://127.0.0.1:<port>. It signs with the given RSA key, or one it makes at start
// (kid `local-1`), and lets
// two demo people get a JWT from the command line through the client credentials grant of
// their own client: `ada` (client secret `ada-secret`, group `sa-admins`) and `grace`
// (`grace-secret`, group `sa-auditors`). Their tokens are JWTs for the audience
// `service-accounts-admin`, naming the person in `sub`, `email` and `groups`. A third, `eve`
// (`eve-secret`), is in no group the demo organization maps:
//
//   curl -s -d grant_type=client_credentials -d client_id=ada -d client_secret=ada-secret \
//        -d resource=urn:service-accounts http://127.0.0.1:<port>/token
//
// The console signs people in through the provider's own login page (its development
// interactions: log in as `ada`, `grace` or `eve`, any password) with the authorization code
// flow and PKCE, as the public client `service-accounts-console`, whose redirect URIs are
// given in CONSOLE_REDIRECT_URIS (comma-separated). Its ID tokens carry `email` and `groups`.
//
// Prints `ready <issuer>` when it listens.
import { readFileSync } from 'node:fs';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, keyFile] = process.argv.slice(2);
if (!port) {
  console.error('usage: node provider.mjs <port> [signing-key.pem]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const privateKey = keyFile
  ? createPrivateKey(readFileSync(keyFile))
  : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const signing = { ...privateKey.export({ format: 'jwk' }), kid: 'local-1', use: 'sig', alg: 'RS256' };

const people = {
  ada: { email: 'ada@example.com', groups: ['sa-admins'] },
  grace: { email: 'grace@example.com', groups: ['sa-auditors'] },
  eve: { email: 'eve@example.com', groups: ['marketing'] },
};

const consoleRedirects = (process.env.CONSOLE_REDIRECT_URIS || '')
  .split(',')
  .filter((uri) => uri.length > 0);
const consoleClient = consoleRedirects.length === 0 ? [] : [{
  client_id: 'service-accounts-console',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: consoleRedirects,
  token_endpoint_auth_method: 'none',
}];

const provider = new Provider(issuer, {
  jwks: { keys: [signing] },
  clients: Object.keys(people).map((name) => ({
    client_id: name,
    client_secret: `${name}-secret`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
  })).concat(consoleClient),
  claims: { openid: ['sub'], email: ['email'], profile: ['name'], groups: ['groups'] },
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person) return undefined;
    return { accountId: id, async claims() { return { sub: id, name: id, ...person }; } };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:service-accounts',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid',
        audience: 'service-accounts-admin',
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  async extraTokenClaims(ctx, token) {
    const person = people[token.clientId];
    return person ? { ...person, sub: token.clientId } : undefined;
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
