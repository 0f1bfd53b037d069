// A real OpenID Connect provider for Assay's single sign-on tests (test tooling, never deployed).
//
// node provider.mjs CONFIG.json, where CONFIG is
//   {"port": 0, "clients": [{client_id, client_secret, redirect_uris: [...],
//     post_logout_redirect_uris: [...]}], "users_file": "..."}
// and users_file holds {"<username>": {"sub", "password", "email", "name", "groups": [...]}}.
// The users file is read at every sign-in, so a test changes someone's groups between logins.
// Prints "ready <issuer>" on stdout once it listens on 127.0.0.1.
//
// It is the npm oidc-provider package (certified by the OpenID Foundation): authorization code flow,
// PKCE required for every client, ID tokens signed RS256 with auth_time always present,
// prompt=login and max_age honoured, RP-initiated logout at /session/end. Only the pages are ours:
// a plain sign-in form checking the password from the users file (consent is granted at once, as
// a bank's provider does for its own applications) and a plain "sign out?" confirmation.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = () => JSON.parse(readFileSync(config.users_file, 'utf8'));
const byUsername = (username) => users()[username];
const bySub = (sub) => Object.entries(users()).find(([, user]) => user.sub === sub);

const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: randomUUID(), alg: 'RS256', use: 'sig',
};

const server = createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
      require_auth_time: true,
      ...client,
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomUUID()] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups'],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The package's own page loads a web font from the internet; this one is self-contained.
        async logoutSource(ctx, form) {
          ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test identity provider: sign out</title></head><body>
<h1>Test identity provider</h1><p>Sign out of the test identity provider?</p>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>`;
        },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const found = bySub(sub);
      if (!found) return undefined;
      const [username, user] = found;
      return {
        accountId: sub,
        async claims() {
          const [given_name, ...rest] = (user.name || username).split(' ');
          return {
            sub, email: user.email, email_verified: true, name: user.name || username,
            given_name, family_name: rest.join(' '), preferred_username: username,
            groups: user.groups || [],
          };
        },
      };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;
  const oidc = provider.callback();

  const loginPage = (uid, error = '') => `<!doctype html><html lang="en"><head>
<meta charset="utf-8"><title>Test identity provider: sign in</title></head><body>
<h1>Test identity provider</h1>${error ? `<p role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="username">IdP username</label><input id="username" name="username" autocomplete="off">
<label for="password">IdP password</label><input id="password" name="password" type="password">
<button type="submit">Sign in at the provider</button></form></body></html>`;

  const readForm = (req) => new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
  });

  server.on('request', async (req, res) => {
    const match = req.url.match(/^\/interaction\/([\w-]+)(\/login)?$/);
    if (!match) { oidc(req, res); return; }
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'consent') {
        const grant = new provider.Grant({ accountId: details.session.accountId,
          clientId: details.params.client_id });
        grant.addOIDCScope(details.params.scope);
        await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
          { mergeWithLastSubmission: true });
        return;
      }
      if (req.method === 'GET') {
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(loginPage(details.uid));
        return;
      }
      const form = await readForm(req);
      const user = byUsername(form.get('username') || '');
      if (!user || user.password !== form.get('password')) {
        res.statusCode = 401;
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(loginPage(details.uid, 'Wrong username or password.'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: user.sub } },
        { mergeWithLastSubmission: false });
    } catch (error) {
      res.statusCode = 400;
      res.end(String(error));
    }
  });
  process.stdout.write(`ready ${issuer}\n`);
});
