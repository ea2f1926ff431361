#!/usr/bin/env bash
# Smoke test of the test OpenID Connect provider (provider.mjs): starts it on a free port and runs
# the authorization-code + PKCE flow with curl, the way Rempart's integration tests drive it.
# Needs node (with `npm ci --prefix scripts/oidc-provider` done), curl, openssl and python3.
# Exits non-zero, saying what failed, on the first failed check.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for tool in node curl openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "smoke: missing $tool" >&2; exit 1; }
done
[ -d "$here/node_modules/oidc-provider" ] || { echo "smoke: run 'npm ci --prefix scripts/oidc-provider' first" >&2; exit 1; }

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "smoke: FAILED: $*" >&2
  if [ -s "$work/provider.err" ]; then echo "--- provider stderr (last lines):" >&2; tail -n 20 "$work/provider.err" >&2; fi
  exit 1
}
ok() { echo "ok - $*"; }

CLIENT_ID=rp
CLIENT_SECRET='s3cret-value'
REDIRECT='http://127.0.0.1:9/callback'
PUBLIC_ID=cli
PUBLIC_REDIRECT='http://127.0.0.1/callback'

# start_provider ALG: starts the provider on a free port, sets pid and ISSUER.
start_provider() {
  : >"$work/provider.out"
  node "$here/provider.mjs" --port 0 --audience rempart \
    --client "$CLIENT_ID:$CLIENT_SECRET:$REDIRECT" --public-client "$PUBLIC_ID:$PUBLIC_REDIRECT" \
    --access-token-ttl 300 --id-token-ttl 300 --alg "$1" \
    >"$work/provider.out" 2>"$work/provider.err" &
  pid=$!
  for _ in $(seq 1 100); do
    [ -s "$work/provider.out" ] && break
    kill -0 "$pid" 2>/dev/null || fail "provider exited before listening"
    sleep 0.1
  done
  [ -s "$work/provider.out" ] || fail "provider printed nothing within 10 s"
  [ "$(wc -l <"$work/provider.out")" -eq 1 ] || fail "stdout is not exactly one line: $(cat "$work/provider.out")"
  ISSUER="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d["port"], int) and d["port"] > 0 and d["alg"] == sys.argv[2]; print(d["issuer"])' "$work/provider.out" "$1")" \
    || fail "first stdout line is not the expected JSON: $(cat "$work/provider.out")"
  [[ "$ISSUER" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "issuer $ISSUER"
  rm -f "$work/cookies.txt"
}

# stop_provider: SIGTERM, expects a clean exit and still one line on stdout.
stop_provider() {
  kill -TERM "$pid"
  local status=0; wait "$pid" || status=$?
  pid=""
  [ "$status" -eq 0 ] || fail "provider exited with status $status on SIGTERM"
  [ "$(wc -l <"$work/provider.out")" -eq 1 ] || fail "provider wrote more than one line to stdout"
}

# verify_jwt TOKEN: checks the signature of a JWT against the provider's /jwks (node's crypto).
verify_jwt() {
  local jwks
  jwks="$(curl -fsS "$ISSUER/jwks")" || fail "GET /jwks"
  node --input-type=module - "$1" "$jwks" <<'EOF'
import * as crypto from 'node:crypto';
const [token, jwks] = process.argv.slice(2);
const [h, p, s] = token.split('.');
const header = JSON.parse(Buffer.from(h, 'base64url'));
const jwk = JSON.parse(jwks).keys.find((k) => k.kid === header.kid);
if (!jwk) { console.error(`kid ${header.kid} not in the JWKS`); process.exit(1); }
const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
const data = Buffer.from(`${h}.${p}`);
const sig = Buffer.from(s, 'base64url');
const good = {
  ES256: () => crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig),
  RS256: () => crypto.verify('sha256', data, key, sig),
  EdDSA: () => crypto.verify(null, data, key, sig),
}[header.alg]?.();
if (!good) { console.error(`bad ${header.alg} signature`); process.exit(1); }
EOF
}

start_provider ES256
ok "provider listening, issuer $ISSUER"

curl -fsS "$ISSUER/_test/health" >/dev/null || fail "GET /_test/health"
ok "/_test/health"

# JSON helper: py 'expression or statements' [args...]; json.loads of argv available as J(i).
py() {
  local code="$1"; shift
  python3 - "$@" <<EOF
import base64, hashlib, json, sys
def J(i): return json.loads(sys.argv[i])
def jwt(token):
    h, p, s = token.split('.')
    pad = lambda x: x + '=' * (-len(x) % 4)
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p)))
$code
EOF
}

discovery="$(curl -fsS "$ISSUER/.well-known/openid-configuration")" || fail "discovery"
py '
d = J(1)
assert d["issuer"] == sys.argv[2], d["issuer"]
assert d["code_challenge_methods_supported"] == ["S256"], d["code_challenge_methods_supported"]
assert "ES256" in d["dpop_signing_alg_values_supported"]
' "$discovery" "$ISSUER" || fail "discovery document"
ok "discovery document"

# run_flow CLIENT_ID REDIRECT_URI [extra authorize query] -> sets CODE, CODE_VERIFIER, NONCE, STATE
# Follows the redirects from /auth by hand with a cookie jar, stopping at the client's redirect_uri.
run_flow() {
  local client="$1" redirect="$2" extra="${3:-}"
  CODE_VERIFIER="$(openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n')"
  local challenge
  challenge="$(printf '%s' "$CODE_VERIFIER" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')"
  NONCE="n-$(openssl rand -hex 8)"
  STATE="s-$(openssl rand -hex 8)"
  local query
  query="$(py '
from urllib.parse import urlencode
print(urlencode({"response_type": "code", "client_id": sys.argv[1], "redirect_uri": sys.argv[2],
  "scope": sys.argv[6], "state": sys.argv[3], "nonce": sys.argv[4],
  "code_challenge": sys.argv[5], "code_challenge_method": "S256"}))
' "$client" "$redirect" "$STATE" "$NONCE" "$challenge" "${SCOPE:-openid email profile}")"
  local url="$ISSUER/auth?$query${extra:+&$extra}" jar="$work/cookies.txt" hops=0 location
  FLOW_HOPS=""
  while :; do
    location="$(curl -sS -o "$work/last.body" -b "$jar" -c "$jar" -w '%{redirect_url}' "$url")" || fail "GET $url"
    [ -n "$location" ] || fail "no redirect from $url: $(head -c 400 "$work/last.body")"
    FLOW_HOPS="$FLOW_HOPS ${location%%\?*}"
    case "$location" in "$redirect"*) break ;; esac
    url="$location"
    hops=$((hops + 1)); [ "$hops" -lt 10 ] || fail "too many redirects"
  done
  FINAL_LOCATION="$location"
  local parsed
  parsed="$(py '
from urllib.parse import urlsplit, parse_qs
q = {k: v[0] for k, v in parse_qs(urlsplit(sys.argv[1]).query).items()}
print(json.dumps(q))
' "$location")"
  CODE="$(py 'q = J(1); print(q.get("code", ""))' "$parsed")"
  [ -n "$CODE" ] || fail "no code at the redirect_uri: $location"
  py 'q = J(1); assert q["state"] == sys.argv[2], q; assert q["iss"] == sys.argv[3], q' "$parsed" "$STATE" "$ISSUER" \
    || fail "state/iss at the redirect_uri: $location"
}

token_request() { # extra curl args...; prints the JSON body, status in $work/status
  curl -sS -o "$work/token.json" -w '%{http_code}' "$@" "$ISSUER/token" >"$work/status" || fail "POST /token"
  cat "$work/token.json"
}

exchange_basic() { # CODE VERIFIER
  token_request -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code \
    --data-urlencode "code=$1" --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$2"
}

# ---------------------------------------------------------------- the code flow, confidential client
run_flow "$CLIENT_ID" "$REDIRECT"
ok "authorization: code and state at the redirect_uri (via$FLOW_HOPS)"
tokens="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 200 ] || fail "token exchange: HTTP $(cat "$work/status") $tokens"
py '
t = J(1)
assert t["token_type"] == "Bearer", t["token_type"]
h, at = jwt(t["access_token"])
assert h["typ"] == "at+jwt", h
assert h["alg"] == "ES256", h
assert at["aud"] == "rempart", at["aud"]
assert at["iss"] == sys.argv[2], at["iss"]
assert at["sub"] == "agent-1", at["sub"]
assert at["client_id"] == "rp", at
assert at["acr"] == "eidas2", at
assert at["amr"] == ["pwd", "otp"], at
for c in ("auth_time", "jti", "iat", "exp", "scope"):
    assert c in at, c
assert at["exp"] - at["iat"] == 300, at
assert set(at["scope"].split()) == {"openid", "email", "profile"}, at["scope"]
assert at["email"] == "agent-1@ml-paris.fr" and at["given_name"] == "Agent" and at["usual_name"] == "Un" and at["siret"] == "00000000000001", at
assert "cnf" not in at, at
hi, it = jwt(t["id_token"])
assert hi["alg"] == "ES256" and hi["kid"] == h["kid"], hi
assert it["nonce"] == sys.argv[3], it
assert it["aud"] == "rp", it
assert it["acr"] == "eidas2" and it["amr"] == ["pwd", "otp"] and it["auth_time"] == at["auth_time"], it
assert it["email"] == "agent-1@ml-paris.fr" and it["given_name"] == "Agent" and it["usual_name"] == "Un" and it["siret"] == "00000000000001", it
assert it["exp"] - it["iat"] == 300, it
' "$tokens" "$ISSUER" "$NONCE" || fail "claims of the tokens: $tokens"
ok "access token: at+jwt, aud rempart, acr, amr, auth_time, scope, client_id, extra claims"
ok "ID token: nonce, acr, amr, auth_time, extra claims"
FIRST_KID="$(py 'h, _ = jwt(J(1)["access_token"]); print(h["kid"])' "$tokens")"
FIRST_TOKEN="$(py 'print(J(1)["access_token"])' "$tokens")"

verify_jwt "$(py 'print(J(1)["access_token"])' "$tokens")" || fail "access token signature does not verify against /jwks"
verify_jwt "$(py 'print(J(1)["id_token"])' "$tokens")" || fail "ID token signature does not verify against /jwks"
ok "access token and ID token signatures verify with the JWKS key"

# ---------------------------------------------------------------- code replay
replay="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 400 ] || fail "replayed code: HTTP $(cat "$work/status") $replay"
py 'assert J(1)["error"] == "invalid_grant", J(1)' "$replay" || fail "replayed code: $replay"
ok "replayed code refused (invalid_grant)"

# ---------------------------------------------------------------- client_secret_post, explicit resource
run_flow "$CLIENT_ID" "$REDIRECT" "resource=urn%3Arempart"
tokens="$(token_request -d grant_type=authorization_code -d client_id="$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$CODE_VERIFIER" \
  --data-urlencode "resource=urn:rempart")"
[ "$(cat "$work/status")" = 200 ] || fail "client_secret_post + resource: HTTP $(cat "$work/status") $tokens"
py '_, at = jwt(J(1)["access_token"]); assert at["aud"] == "rempart", at' "$tokens" || fail "aud with explicit resource"
ok "client_secret_post and an explicit resource=urn:rempart"

# ---------------------------------------------------------------- PKCE is required
location="$(curl -sS -o /dev/null -w '%{redirect_url}' "$ISSUER/auth?response_type=code&client_id=$CLIENT_ID&redirect_uri=$(py 'from urllib.parse import quote; print(quote(sys.argv[1], safe=""))' "$REDIRECT")&scope=openid&state=x")"
case "$location" in "$REDIRECT"*error=invalid_request*) ;; *) fail "authorization without PKCE was not refused: $location" ;; esac
ok "authorization request without PKCE refused"

# ---------------------------------------------------------------- public client (CLI, loopback, any port)
cli_redirect="http://127.0.0.1:54321/callback"
run_flow "$PUBLIC_ID" "$cli_redirect"
tokens="$(token_request -d grant_type=authorization_code -d client_id="$PUBLIC_ID" \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$cli_redirect" --data-urlencode "code_verifier=$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 200 ] || fail "public client exchange: HTTP $(cat "$work/status") $tokens"
py '_, at = jwt(J(1)["access_token"]); assert at["aud"] == "rempart" and at["client_id"] == "cli", at' "$tokens" || fail "public client token"
ok "public client on a loopback redirect with another port"

# ---------------------------------------------------------------- another profile, no acr/amr
curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"sub":"agent-2","acr":null,"amr":null,"claims":{"email":"agent-2@ml-paris.fr","given_name":"Deux","usual_name":"Agent","siret":"00000000000002","rempart_role":"dpo","unit":"DPO office"}}' \
  -o /dev/null -w '%{http_code}' "$ISSUER/_test/profile" >"$work/status" || fail "POST /_test/profile"
[ "$(cat "$work/status")" = 204 ] || fail "POST /_test/profile: HTTP $(cat "$work/status")"
run_flow "$CLIENT_ID" "$REDIRECT"   # same cookie jar as before: still a fresh login
tokens="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 200 ] || fail "exchange after profile change: HTTP $(cat "$work/status") $tokens"
py '
t = J(1)
_, at = jwt(t["access_token"]); _, it = jwt(t["id_token"])
for tok in (at, it):
    assert tok["sub"] == "agent-2", tok
    assert "acr" not in tok and "amr" not in tok, tok
    assert tok["rempart_role"] == "dpo" and tok["unit"] == "DPO office" and tok["siret"] == "00000000000002", tok
' "$tokens" || fail "tokens after a profile change: $tokens"
ok "new profile applies to the next flow (sub agent-2, no acr/amr, extra claims rempart_role, unit)"
curl -fsS -X POST -H 'content-type: application/json' -d '{"sub":"agent-1","acr":"eidas2","amr":["pwd","otp"],"claims":{"email":"agent-1@ml-paris.fr","given_name":"Agent","usual_name":"Un","siret":"00000000000001"}}' \
  "$ISSUER/_test/profile" || fail "restore profile"

# ---------------------------------------------------------------- key rotation
rotated="$(curl -fsS -X POST -H 'content-type: application/json' -d '{"keep_old":true}' "$ISSUER/_test/rotate")" || fail "POST /_test/rotate"
NEW_KID="$(py 'print(J(1)["kid"])' "$rotated")"
[ "$NEW_KID" != "$FIRST_KID" ] || fail "rotation returned the old kid"
run_flow "$CLIENT_ID" "$REDIRECT"
tokens="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 200 ] || fail "exchange after rotation: HTTP $(cat "$work/status") $tokens"
py '
t = J(1)
h, _ = jwt(t["access_token"]); hi, _ = jwt(t["id_token"])
assert h["kid"] == sys.argv[2] and hi["kid"] == sys.argv[2], (h, hi)
' "$tokens" "$NEW_KID" || fail "tokens after rotation do not carry the new kid $NEW_KID"
jwks="$(curl -fsS "$ISSUER/jwks")" || fail "GET /jwks"
py 'kids = sorted(k["kid"] for k in J(1)["keys"]); assert kids == sorted([sys.argv[2], sys.argv[3]]), kids' "$jwks" "$FIRST_KID" "$NEW_KID" \
  || fail "JWKS after rotation with keep_old: $jwks"
verify_jwt "$FIRST_TOKEN" || fail "a token signed before the rotation no longer verifies with keep_old"
ok "rotate keep_old=true: new kid $NEW_KID signs, JWKS has both kids", a token signed before still verifies

rotated="$(curl -fsS -X POST -H 'content-type: application/json' -d '{"keep_old":false}' "$ISSUER/_test/rotate")" || fail "POST /_test/rotate keep_old=false"
THIRD_KID="$(py 'print(J(1)["kid"])' "$rotated")"
jwks="$(curl -fsS "$ISSUER/jwks")" || fail "GET /jwks"
py 'kids = [k["kid"] for k in J(1)["keys"]]; assert kids == [sys.argv[2]], kids' "$jwks" "$THIRD_KID" || fail "JWKS after rotation without keep_old: $jwks"
run_flow "$CLIENT_ID" "$REDIRECT"
tokens="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
py 'h, _ = jwt(J(1)["access_token"]); assert h["kid"] == sys.argv[2], h' "$tokens" "$THIRD_KID" || fail "token after rotation without keep_old: $tokens"
if verify_jwt "$FIRST_TOKEN" 2>/dev/null; then fail "a token signed before the rotation still verifies without keep_old"; fi
ok "rotate keep_old=false: JWKS has only the new kid $THIRD_KID", the old tokens no longer verify

# ---------------------------------------------------------------- DPoP-bound access token
run_flow "$CLIENT_ID" "$REDIRECT"
node --input-type=module - "$ISSUER/token" >"$work/dpop.json" <<'EOF' || fail "making a DPoP proof"
import * as crypto from 'node:crypto';
const htu = process.argv[2];
const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
const jwk = { kty, crv, x, y };
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.${b64({ jti: crypto.randomUUID(), htm: 'POST', htu, iat: Math.floor(Date.now() / 1000) })}`;
const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
const jkt = crypto.createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
process.stdout.write(JSON.stringify({ proof: `${input}.${sig}`, jkt }));
EOF
proof="$(py 'print(J(1)["proof"])' "$(cat "$work/dpop.json")")"
jkt="$(py 'print(J(1)["jkt"])' "$(cat "$work/dpop.json")")"
tokens="$(token_request -H "DPoP: $proof" -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 200 ] || fail "DPoP token exchange: HTTP $(cat "$work/status") $tokens"
py '
t = J(1)
assert t["token_type"] == "DPoP", t["token_type"]
_, at = jwt(t["access_token"])
assert at["cnf"] == {"jkt": sys.argv[2]}, at
assert at["aud"] == "rempart", at
' "$tokens" "$jkt" || fail "DPoP-bound token: $tokens"
ok "DPoP proof at the token endpoint: token_type DPoP, cnf.jkt = key thumbprint"

# ---------------------------------------------------------------- refresh token (offline_access needs prompt=consent)
SCOPE="openid offline_access" run_flow "$CLIENT_ID" "$REDIRECT" "prompt=consent"
tokens="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
[ "$(cat "$work/status")" = 200 ] || fail "exchange with offline_access: HTTP $(cat "$work/status") $tokens"
refresh="$(py 'print(J(1)["refresh_token"])' "$tokens")" || fail "no refresh_token with offline_access and prompt=consent: $tokens"
refreshed="$(token_request -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=refresh_token --data-urlencode "refresh_token=$refresh")"
[ "$(cat "$work/status")" = 200 ] || fail "refresh: HTTP $(cat "$work/status") $refreshed"
py '
_, first = jwt(J(1)["access_token"]); _, at = jwt(J(2)["access_token"])
assert at["jti"] != first["jti"], at
assert at["aud"] == "rempart" and at["sub"] == "agent-1", at
assert at["acr"] == "eidas2" and at["amr"] == ["pwd", "otp"] and at["auth_time"] == first["auth_time"], at
assert at["siret"] == "00000000000001", at
' "$tokens" "$refreshed" || fail "access token from a refresh: $refreshed"
ok "refresh_token grant: new access token with the same aud, acr, amr, auth_time and claims"

stop_provider
ok "clean exit on SIGTERM, stdout held one line"

# ---------------------------------------------------------------- the other algorithms
for alg in RS256 EdDSA; do
  start_provider "$alg"
  run_flow "$CLIENT_ID" "$REDIRECT"
  tokens="$(exchange_basic "$CODE" "$CODE_VERIFIER")"
  [ "$(cat "$work/status")" = 200 ] || fail "$alg: token exchange: HTTP $(cat "$work/status") $tokens"
  py '
t = J(1)
h, at = jwt(t["access_token"]); hi, it = jwt(t["id_token"])
assert h["alg"] == sys.argv[2] and h["typ"] == "at+jwt" and hi["alg"] == sys.argv[2], (h, hi)
assert at["aud"] == "rempart" and it["nonce"] == sys.argv[3], (at, it)
' "$tokens" "$alg" "$NONCE" || fail "$alg tokens: $tokens"
  verify_jwt "$(py 'print(J(1)["access_token"])' "$tokens")" || fail "$alg access token signature"
  verify_jwt "$(py 'print(J(1)["id_token"])' "$tokens")" || fail "$alg ID token signature"
  rotated="$(curl -fsS -X POST -d '{}' "$ISSUER/_test/rotate")" || fail "$alg: POST /_test/rotate"
  py 'k = J(1); assert len(k["kids"]) == 2 and k["kids"][0] == k["kid"], k' "$rotated" || fail "$alg rotate: $rotated"
  stop_provider
  ok "--alg $alg: tokens signed with $alg verify with the JWKS; rotation keeps the old key by default"
done

echo "smoke: all checks passed"
