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
// The console signs people in through the provider's own login page (log in as `ada`,
// `grace` or `eve`, any password), then its consent page, with the authorization code
// flow and PKCE, as the public client `service-accounts-console`, whose redirect URIs are
// given in CONSOLE_REDIRECT_URIS (comma-separated). Its ID tokens carry `email` and `groups`.
// Those two pages are this script's own (below, at /interaction/<uid>, through the provider's
// interactionDetails/interactionFinished), not the package's development interactions: they
// look like the console and are accessible (axe-core checks them in the console's tests).
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
  client_name: 'Service accounts console',
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
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Something went wrong', errorBody(out));
  },
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person) return undefined;
    return { accountId: id, async claims() { return { sub: id, name: id, ...person }; } };
  },
  features: {
    // The login and consent pages are ours (below).
    devInteractions: { enabled: false },
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
provider.use(interactions);
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});

// The login and consent pages, styled like the console (its palette, its focus ring).

function escape(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const style = `
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad; --danger: #a40e26; --bg: #ffffff; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
header { padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--soft); }
.brand { font-weight: 600; }
main { padding: 1rem 1.5rem 3rem; max-width: 30rem; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 .25rem; }
.muted { color: var(--muted); }
.field { margin: .75rem 0; }
.field label { display: block; font-weight: 600; margin-bottom: .25rem; }
input { font: inherit; width: 100%; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: 4px; }
.field-error { color: var(--danger); margin: .25rem 0; font-weight: 600; }
ul { margin: .25rem 0; padding-left: 1.25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin-top: 1.25rem; }
button { font: inherit; padding: .4rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
`;

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Local OpenID Provider</title>
<style>${style}</style>
</head>
<body>
<header><span class="brand">Local OpenID Provider</span> <span class="muted">(demo people only)</span></header>
<main>
<h1>${escape(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

function errorBody(out) {
  const description = out.error_description || out.error || 'The request could not be completed.';
  return `<p>${escape(description)}</p>
<p class="muted">Error: <code>${escape(out.error || 'server_error')}</code></p>
<p>Start again from the application you were signing in to.</p>`;
}

function clientName(client, params) {
  return client?.clientName || client?.clientId || params.client_id;
}

function loginBody({ uid, params, client }, { login = params.login_hint || '', error } = {}) {
  const errorHtml = error ? `<p class="field-error" id="login-error">${escape(error)}</p>` : '';
  const described = error ? ' aria-describedby="login-error" aria-invalid="true"' : '';
  // The first field to fill (the name again when it was wrong) has the focus.
  const focusName = !login || error;
  return `<p>Sign in to continue to <strong>${escape(clientName(client, params))}</strong>.</p>
<form method="post" action="/interaction/${escape(uid)}" autocomplete="off">
<input type="hidden" name="prompt" value="login">
<div class="field">
<label for="login">Name</label>
${errorHtml}<input id="login" name="login" type="text" required autocapitalize="none" spellcheck="false" value="${escape(login)}"${focusName ? ' autofocus' : ''}${described}>
</div>
<div class="field">
<label for="password">Password</label>
<input id="password" name="password" type="password" required${focusName ? '' : ' autofocus'}>
</div>
<p class="muted">The demo people are <code>ada</code> (admins), <code>grace</code> (auditors) and <code>eve</code> (no group); any password will do.</p>
<div class="actions">
<button type="submit">Sign in</button>
<a href="/interaction/${escape(uid)}/abort">Cancel</a>
</div>
</form>`;
}

const scopeText = {
  openid: 'confirm who you are',
  email: 'see your email address',
  profile: 'see your name',
  groups: 'see the groups you are in',
  offline_access: 'stay signed in when you are away',
};

function consentBody({ uid, params, client, prompt: { details } }, accountId) {
  const scopes = [...new Set(details.missingOIDCScope || [])];
  const claims = (details.missingOIDCClaims || [])
    .filter((claim) => !['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'].includes(claim));
  const resources = Object.entries(details.missingResourceScopes || {});
  const items = [
    ...scopes.map((scope) => `<li>${escape(scopeText[scope] || `use the scope ${scope}`)} (<code>${escape(scope)}</code>)</li>`),
    ...claims.map((claim) => `<li>see the claim <code>${escape(claim)}</code></li>`),
    ...resources.map(([resource, list]) => `<li>call <code>${escape(resource)}</code> for you (scopes <code>${escape(list.join(' '))}</code>)</li>`),
    ...(details.rar || []).map((detail) => `<li>use the authorization details <code>${escape(JSON.stringify(detail))}</code></li>`),
  ];
  const asked = items.length === 0
    ? '<p>It asks you to confirm what you have already allowed.</p>'
    : `<h2>It asks to</h2>\n<ul>\n${items.join('\n')}\n</ul>`;
  return `<p><strong>${escape(clientName(client, params))}</strong> wants to sign you in as <strong>${escape(accountId)}</strong>.</p>
${asked}
<form method="post" action="/interaction/${escape(uid)}" autocomplete="off">
<input type="hidden" name="prompt" value="consent">
<div class="actions">
<button type="submit" autofocus>Continue</button>
<a href="/interaction/${escape(uid)}/abort">Cancel</a>
</div>
</form>`;
}

async function formBody(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw Object.assign(new Error('request too large'), { status: 413 });
  }
  return new URLSearchParams(text);
}

function show(ctx, status, title, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = page(title, body);
}

// GET /interaction/<uid>: the login or consent page; POST: its answer; GET …/abort: cancel.
async function interactions(ctx, next) {
  const match = /^\/interaction\/([\w-]+)(\/abort)?$/.exec(ctx.path);
  if (!match || !(ctx.method === 'GET' || (ctx.method === 'POST' && !match[2]))) return next();
  ctx.set('cache-control', 'no-store');
  try {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== match[1]) throw Object.assign(new Error('interaction mismatch'), { status: 400, error: 'invalid_request', error_description: 'This sign-in page does not belong to your current sign-in.' });
    const { uid, prompt, params, session } = interaction;
    const client = await provider.Client.find(params.client_id);
    // The interaction's fields are getters: pick what the pages show.
    const shown = { uid, prompt, params, client };
    if (match[2]) {
      await provider.interactionFinished(ctx.req, ctx.res, {
        error: 'access_denied',
        error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      ctx.respond = false;
      return undefined;
    }
    if (ctx.method === 'GET') {
      if (prompt.name === 'login') return show(ctx, 200, 'Sign in', loginBody(shown));
      if (prompt.name === 'consent') return show(ctx, 200, 'Allow access', consentBody(shown, session?.accountId));
      return show(ctx, 501, 'Something went wrong', errorBody({ error: 'not_implemented', error_description: `The prompt ${prompt.name} is not supported here.` }));
    }
    const form = await formBody(ctx.req);
    if (form.get('prompt') !== prompt.name) {
      return show(ctx, 400, 'Something went wrong', errorBody({ error: 'invalid_request', error_description: 'This page is out of date: go back to the application and sign in again.' }));
    }
    if (prompt.name === 'login') {
      const login = (form.get('login') || '').trim();
      if (!Object.hasOwn(people, login)) {
        const error = `There is no demo person named “${login}”: use ada, grace or eve.`;
        return show(ctx, 400, 'Sign in', loginBody(shown, { login, error }));
      }
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    } else {
      const { details } = prompt;
      const grant = interaction.grantId
        ? await provider.Grant.find(interaction.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
      if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(details.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      for (const detail of details.rar || []) grant.addRar(detail);
      const grantId = await grant.save();
      await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    ctx.respond = false;
    return undefined;
  } catch (error) {
    const status = error.status || error.statusCode || 500;
    const out = status < 500
      ? { error: error.error || 'invalid_request', error_description: error.error_description || error.message }
      : { error: 'server_error', error_description: 'oops! something went wrong' };
    return show(ctx, status, 'Something went wrong', errorBody(out));
  }
}
