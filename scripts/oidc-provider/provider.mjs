// Test peer for Rempart's integration tests: a real OpenID Connect provider.
//
// The OpenID Connect and OAuth 2.0 logic is panva's certified `oidc-provider`, unmodified and
// with none of its checks disabled. This file only supplies what any deployment supplies: the
// configuration (clients, keys, resource server, claims), an account store, a storage adapter
// and the login/consent interaction, which is automated here (no HTML form: a GET on the
// interaction URL logs in the current test profile and grants everything requested).
//
// The `/_test/...` endpoints exist only in this test peer, never in a real provider.
// See README.md next to this file.
//
// stdout carries exactly one line, the JSON printed once listening; everything else goes to stderr.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints notices with console.info (stdout): send every console output to stderr
// so that stdout keeps its single JSON line. Must happen before oidc-provider is imported.
const writeStdout = process.stdout.write.bind(process.stdout);
for (const method of ['log', 'info', 'debug']) {
  console[method] = (...args) => console.error(...args);
}

const { default: Provider, errors } = await import('oidc-provider');

// ---------------------------------------------------------------- options

const USAGE = `usage: node provider.mjs [--port N] [--audience A] [--resource URI]
       [--client ID:SECRET:REDIRECT_URI]... [--public-client ID:REDIRECT_URI]...
       [--access-token-ttl SECONDS] [--id-token-ttl SECONDS] [--alg ES256|RS256|EdDSA]`;

function die(message) {
  process.stderr.write(`oidc test provider: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name, value) {
  if (!/^\d+$/.test(value) || Number(value) <= 0) die(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseArgs(argv) {
  const opts = {
    port: 0,
    audience: 'rempart',
    resource: undefined,
    clients: [],
    accessTokenTtl: 300,
    idTokenTtl: 300,
    alg: 'ES256',
  };
  for (let i = 0; i < argv.length; i += 1) {
    let name = argv[i];
    let value;
    const eq = name.indexOf('=');
    if (name.startsWith('--') && eq !== -1) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      if (name === '--help' || name === '-h') {
        writeStdout(`${USAGE}\n`);
        process.exit(0);
      }
      if (i + 1 >= argv.length) die(`missing value for ${name}`);
      value = argv[i + 1];
      i += 1;
    }
    switch (name) {
      case '--port':
        if (!/^\d+$/.test(value) || Number(value) > 65535) die(`--port must be 0..65535, got ${JSON.stringify(value)}`);
        opts.port = Number(value);
        break;
      case '--audience':
        if (!value) die('--audience must not be empty');
        opts.audience = value;
        break;
      case '--resource':
        if (!URL.canParse(value)) die('--resource must be an absolute URI');
        opts.resource = value;
        break;
      case '--client': {
        // ID:SECRET:REDIRECT_URI; the redirect URI itself contains ':' so split on the first two.
        const first = value.indexOf(':');
        const second = first === -1 ? -1 : value.indexOf(':', first + 1);
        if (first <= 0 || second <= first + 1) die(`--client must be ID:SECRET:REDIRECT_URI, got ${JSON.stringify(value)}`);
        opts.clients.push({
          kind: 'confidential',
          id: value.slice(0, first),
          secret: value.slice(first + 1, second),
          redirectUri: value.slice(second + 1),
        });
        break;
      }
      case '--public-client': {
        const first = value.indexOf(':');
        if (first <= 0) die(`--public-client must be ID:REDIRECT_URI, got ${JSON.stringify(value)}`);
        opts.clients.push({ kind: 'public', id: value.slice(0, first), redirectUri: value.slice(first + 1) });
        break;
      }
      case '--access-token-ttl':
        opts.accessTokenTtl = positiveInt(name, value);
        break;
      case '--id-token-ttl':
        opts.idTokenTtl = positiveInt(name, value);
        break;
      case '--alg':
        if (!['ES256', 'RS256', 'EdDSA'].includes(value)) die(`--alg must be ES256, RS256 or EdDSA, got ${JSON.stringify(value)}`);
        opts.alg = value;
        break;
      default:
        die(`unknown option ${name}`);
    }
  }
  for (const c of opts.clients) {
    if (!URL.canParse(c.redirectUri)) die(`client ${c.id}: redirect URI ${JSON.stringify(c.redirectUri)} is not an absolute URI`);
  }
  const ids = opts.clients.map((c) => c.id);
  if (new Set(ids).size !== ids.length) die('client ids must be unique');
  // RFC 8707 resource indicators are absolute URIs; the audience "rempart" is not one, so the
  // resource indicator defaults to the audience when it is a URI, else to urn:<audience>.
  opts.resource ??= /^[a-z][a-z0-9+.-]*:/i.test(opts.audience) && URL.canParse(opts.audience)
    ? opts.audience
    : `urn:${opts.audience}`;
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- signing keys

// RFC 7638 JWK thumbprint, used as kid.
function thumbprint(jwk) {
  const members = {
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
    RSA: ['e', 'kty', 'n'],
  }[jwk.kty];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

function generateSigningKey(alg) {
  let pair;
  switch (alg) {
    case 'ES256': pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }); break;
    case 'RS256': pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }); break;
    case 'EdDSA': pair = crypto.generateKeyPairSync('ed25519'); break;
    default: throw new Error(`unsupported alg ${alg}`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: thumbprint(jwk), alg, use: 'sig' };
}

// The first key signs; the others are only published in the JWKS (kept after a rotation).
let signingKeys = [generateSigningKey(opts.alg)];

// ---------------------------------------------------------------- storage

// In-memory storage shared by every Provider instance of this process, so that codes, grants,
// sessions and interactions survive the Provider being rebuilt (key rotation, new claims).
// Semantics follow oidc-provider's adapter interface (and its own memory adapter).
const store = new Map(); // key -> { value, expiresAt (ms) | undefined }
const nowSeconds = () => Math.floor(Date.now() / 1000);

function storeGet(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.value;
}

function storeSet(key, value, expiresIn) {
  store.set(key, {
    value,
    expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined,
  });
}

setInterval(() => {
  for (const key of store.keys()) storeGet(key);
}, 60_000).unref();

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

class TestAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      const members = storeGet(grantKey) ?? [];
      if (!members.includes(key)) members.push(key);
      storeSet(grantKey, members);
    }
    if (payload.userCode) storeSet(`userCode:${payload.userCode}`, id, expiresIn);
    storeSet(key, structuredClone(payload), expiresIn);
  }

  async find(id) {
    const value = storeGet(this.key(id));
    return value === undefined ? undefined : structuredClone(value);
  }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const value = storeGet(this.key(id));
    if (value) value.consumed = nowSeconds();
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    for (const key of storeGet(grantKey) ?? []) store.delete(key);
    store.delete(grantKey);
  }
}

// ---------------------------------------------------------------- accounts and profile

const DEFAULT_PROFILE = {
  sub: 'agent-1',
  acr: 'eidas2',
  amr: ['pwd', 'otp'],
  claims: {
    email: 'agent-1@ml-paris.fr',
    given_name: 'Agent',
    usual_name: 'Un',
    siret: '00000000000001',
  },
};

// Claims the tokens never take from a profile: the provider sets them itself.
const RESERVED_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'azp', 'nonce', 'acr', 'amr', 'auth_time',
  'at_hash', 'c_hash', 's_hash', 'sid', 'scope', 'client_id', 'cnf', 'authorization_details',
]);

function validateProfile(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('profile must be a JSON object');
  const { sub, acr = null, amr = null, claims = {} } = input;
  if (typeof sub !== 'string' || !sub) throw new Error('profile.sub must be a non-empty string');
  if (acr !== null && (typeof acr !== 'string' || !acr)) throw new Error('profile.acr must be a non-empty string or null');
  if (amr !== null && (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string' && m))) {
    throw new Error('profile.amr must be an array of non-empty strings or null');
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new Error('profile.claims must be a JSON object');
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) throw new Error(`profile.claims.${name}: reserved claim, set by the provider`);
  }
  const unknown = Object.keys(input).filter((k) => !['sub', 'acr', 'amr', 'claims'].includes(k));
  if (unknown.length) throw new Error(`profile: unknown member(s) ${unknown.join(', ')}`);
  return { sub, acr, amr, claims: structuredClone(claims) };
}

let profile = validateProfile(DEFAULT_PROFILE);
// The claims of each account as of its last login, looked up by the provider by sub.
const accounts = new Map();

// Every claim name any profile used: the provider's claims configuration must list a claim for it
// to appear in ID tokens and userinfo (it filters to supported claims).
const knownClaims = new Set(['email', 'given_name', 'usual_name', 'siret', 'rempart_role']);
const knownAcrs = new Set(['eidas1', 'eidas2', 'eidas3']);

function rememberProfileNames(p) {
  let added = false;
  for (const name of Object.keys(p.claims)) {
    if (!knownClaims.has(name)) { knownClaims.add(name); added = true; }
  }
  if (p.acr !== null && !knownAcrs.has(p.acr)) { knownAcrs.add(p.acr); added = true; }
  return added;
}
rememberProfileNames(profile);

async function findAccount(_ctx, sub) {
  const account = accounts.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    async claims() {
      return { ...structuredClone(account.claims), sub };
    },
  };
}

// ---------------------------------------------------------------- provider

const BASE_SCOPES = ['openid', 'offline_access', 'profile', 'email'];
let issuer; // set once listening

// The scopes the resource server accepts: the base scopes and whatever the current request
// asks for, so that every requested scope ends up granted in the access token.
function resourceScopes(ctx) {
  const scopes = new Set(BASE_SCOPES);
  const add = (s) => { if (typeof s === 'string') for (const x of s.split(' ')) if (x) scopes.add(x); };
  add(ctx?.oidc?.params?.scope);
  add(ctx?.oidc?.entities?.AuthorizationCode?.scope);
  add(ctx?.oidc?.entities?.RefreshToken?.scope);
  return [...scopes].join(' ');
}

// The authentication facts of the code or refresh token the access token is issued from.
function authenticationOf(ctx) {
  const source = ctx?.oidc?.entities?.AuthorizationCode ?? ctx?.oidc?.entities?.RefreshToken;
  const out = {};
  if (!source) return out;
  if (source.acr !== undefined && source.acr !== null) out.acr = source.acr;
  if (Array.isArray(source.amr)) out.amr = source.amr;
  if (source.authTime !== undefined) out.auth_time = source.authTime;
  return out;
}

function clientMetadata(c) {
  const common = {
    client_id: c.id,
    redirect_uris: [c.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: opts.alg,
  };
  if (c.kind === 'confidential') {
    // client_secret_post is accepted too: oidc-provider treats the two secret methods alike.
    return {
      ...common, client_secret: c.secret, token_endpoint_auth_method: 'client_secret_basic', application_type: 'web',
    };
  }
  // A CLI: a native client may redirect to any port of a loopback address (RFC 8252 §7.3).
  const url = new URL(c.redirectUri);
  const loopback = url.protocol === 'http:' && ['127.0.0.1', '[::1]'].includes(url.hostname);
  const native = loopback || !['http:', 'https:'].includes(url.protocol);
  return { ...common, token_endpoint_auth_method: 'none', application_type: native ? 'native' : 'web' };
}

const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function buildProvider() {
  const profileClaims = [...knownClaims];
  const configuration = {
    adapter: TestAdapter,
    clients: opts.clients.map(clientMetadata),
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: opts.alg,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    jwks: { keys: signingKeys.map((k) => ({ ...k })) },
    findAccount,
    responseTypes: ['code'],
    scopes: BASE_SCOPES,
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      // Every profile claim is released with the openid scope (ID token and userinfo); acr, amr
      // and auth_time too, so that every ID token carries them (when the login set them).
      openid: ['sub', 'acr', 'amr', 'auth_time', ...profileClaims],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'usual_name', 'preferred_username'],
    },
    // Claims of the granted scopes go in the ID token itself, not only at userinfo.
    conformIdTokenClaims: false,
    acrValues: [...knownAcrs],
    pkce: { required: () => true },
    cookies: { keys: cookieKeys },
    clientBasedCORS: () => true,
    // Errors shown to the user agent (authorization endpoint errors that cannot be redirected to
    // the client, a lost interaction) as JSON rather than an HTML page.
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    extraTokenClaims: async (ctx, token) => {
      const account = token.accountId ? accounts.get(token.accountId) : undefined;
      return { ...(account ? structuredClone(account.claims) : {}), ...authenticationOf(ctx) };
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: true },
      userinfo: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => opts.resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (resourceIndicator !== opts.resource) throw new errors.InvalidTarget();
          return {
            scope: resourceScopes(ctx),
            audience: opts.audience,
            accessTokenTTL: opts.accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: opts.alg } },
          };
        },
      },
    },
    ttl: {
      AccessToken: opts.accessTokenTtl,
      AuthorizationCode: 60,
      ClientCredentials: opts.accessTokenTtl,
      IdToken: opts.idTokenTtl,
      Interaction: 600,
      Session: 600,
      Grant: 3600,
      RefreshToken: 86400,
    },
  };
  const provider = new Provider(issuer, configuration);
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'introspection.error',
    'revocation.error', 'userinfo.error', 'end_session.error', 'jwks.error', 'discovery.error']) {
    provider.on(event, (ctx, err) => {
      const detail = err?.error_description ? ` (${err.error_description})` : '';
      process.stderr.write(`oidc test provider: ${event}: ${err?.message ?? err}${detail}\n`);
      if (event === 'server_error' && err?.stack) process.stderr.write(`${err.stack}\n`);
    });
  }
  return { provider, handler: provider.callback() };
}

let current; // { provider, handler }

// ---------------------------------------------------------------- automated interaction

async function completeInteraction(req, res, uid) {
  const { provider } = current;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    const why = err.error_description ? `${err.message}: ${err.error_description}` : err.message;
    sendText(res, 400, `interaction not found (${why}). The HTTP client must send back the cookies `
      + 'set by the authorization endpoint (_interaction, _interaction.sig, _interaction_resume, '
      + '_interaction_resume.sig) on the following redirects.\n');
    return;
  }
  if (details.uid !== uid) {
    sendText(res, 400, 'interaction cookie does not match the interaction URL\n');
    return;
  }
  const { params } = details;
  const p = structuredClone(profile);
  accounts.set(p.sub, { claims: p.claims });

  // Login: the current test profile, authenticated now, with its acr and amr.
  const login = { accountId: p.sub, ts: nowSeconds(), remember: false };
  if (p.acr !== null) login.acr = p.acr;
  if (p.amr !== null) login.amr = p.amr;

  // Consent: grant every requested scope, claim and resource.
  let grant;
  if (details.grantId && details.session?.accountId === p.sub) grant = await provider.Grant.find(details.grantId);
  grant ??= new provider.Grant({ accountId: p.sub, clientId: params.client_id });
  const requested = typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
  const oidcScopes = requested.filter((s) => BASE_SCOPES.includes(s));
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  const missingClaims = details.prompt?.details?.missingOIDCClaims;
  if (Array.isArray(missingClaims) && missingClaims.length) grant.addOIDCClaims(missingClaims);
  let resources = params.resource;
  if (resources === undefined) resources = [];
  if (!Array.isArray(resources)) resources = [resources];
  for (const resource of resources) {
    if (requested.length) grant.addResourceScope(resource, requested.join(' '));
  }
  const grantId = await grant.save();

  await provider.interactionFinished(req, res, { login, consent: { grantId } }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------- test admin endpoints

function sendText(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  return JSON.parse(text);
}

async function admin(req, res, path) {
  if (path === '/_test/health' && (req.method === 'GET' || req.method === 'HEAD')) {
    sendJson(res, 200, { ok: true, issuer });
    return;
  }
  if (path === '/_test/profile' && req.method === 'POST') {
    let next;
    try {
      next = validateProfile(await readJson(req));
    } catch (err) {
      sendJson(res, 400, { error: err.message });
      return;
    }
    profile = next;
    if (rememberProfileNames(profile)) current = buildProvider();
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
    return;
  }
  if (path === '/_test/profile' && req.method === 'GET') {
    sendJson(res, 200, profile);
    return;
  }
  if (path === '/_test/rotate' && req.method === 'POST') {
    let keepOld = true;
    try {
      const body = await readJson(req);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('body must be a JSON object');
      if (body.keep_old !== undefined) {
        if (typeof body.keep_old !== 'boolean') throw new Error('keep_old must be a boolean');
        keepOld = body.keep_old;
      }
    } catch (err) {
      sendJson(res, 400, { error: err.message });
      return;
    }
    const key = generateSigningKey(opts.alg);
    signingKeys = keepOld ? [key, ...signingKeys] : [key];
    current = buildProvider();
    sendJson(res, 200, { kid: key.kid, kids: signingKeys.map((k) => k.kid) });
    return;
  }
  sendJson(res, 404, { error: `no test endpoint ${req.method} ${path}` });
}

// ---------------------------------------------------------------- server

// Every authorization request is a fresh login: the browser session cookie is not shown to the
// authorization endpoint (/auth and its resume /auth/UID), as if each flow ran in a new browser.
// So a profile set with /_test/profile applies to the next flow even if the HTTP client keeps
// cookies from the previous one. The interaction cookies (CSRF protection) are left untouched.
function withoutSessionCookie(req) {
  const header = req.headers.cookie;
  if (!header) return;
  const kept = header.split(';').map((c) => c.trim()).filter((c) => c && !/^_session(\.[a-z]+)?=/.test(c));
  if (kept.length) req.headers.cookie = kept.join('; ');
  else delete req.headers.cookie;
}

const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path.startsWith('/_test/')) {
      await admin(req, res, path);
      return;
    }
    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(path);
    if (interaction && req.method === 'GET') {
      await completeInteraction(req, res, interaction[1]);
      return;
    }
    if (path === '/auth' || path.startsWith('/auth/')) withoutSessionCookie(req);
    current.handler(req, res);
  } catch (err) {
    process.stderr.write(`oidc test provider: ${err.stack ?? err}\n`);
    if (!res.headersSent) sendText(res, 500, 'internal error\n');
    else res.destroy();
  }
});

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.on('error', (err) => {
  process.stderr.write(`oidc test provider: ${err.message}\n`);
  process.exit(1);
});

server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  current = buildProvider();
  writeStdout(`${JSON.stringify({
    issuer, port, audience: opts.audience, resource: opts.resource, alg: opts.alg,
  })}\n`);
});
