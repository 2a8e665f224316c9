// A real OpenID Connect provider for the tests: oauth2-mock-server (discovery, JWKS, RS256
// ID tokens, PKCE S256 enforced), listening on a free loopback port.
//
// It prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, and runs until its standard
// input closes, so it never outlives the test that started it.
//
// The authorization request's login_hint chooses the user and, before a '~', flags joined
// by '+' that make the provider misbehave in one precise way:
//   alice@example.com                 a normal login (name "Alice", verified e-mail)
//   noname~bob@example.com            no name claim (registration completion)
//   unverified~x@example.com          email_verified false
//   wrong-nonce~, wrong-aud~, wrong-iss~, expired~, future-iat~, azp-other~
//                                     that claim wrong in the ID token
//   multi-aud-no-azp~                 two audiences (ours and another) and no azp
//   alg-none~                         an unsigned ID token (alg "none")
//   hs256-pubkey~                     HS256, keyed with the provider's own public key (PEM):
//                                     the algorithm-confusion forgery
//   unknown-key~                      signed by a key the JWKS never lists
//   rotate~                           signed by a new key published only now (key rotation)
//   bad-iss-param~                    the redirect's RFC 9207 `iss` names another issuer
//   userinfo~                         the profile lives in userinfo (Kakao-like), not the ID token
//   require-post~                     the token endpoint accepts the client secret only in the body
import crypto from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(0, '127.0.0.1');
const issuer = `http://127.0.0.1:${server.address().port}`;
server.issuer.url = issuer;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function parseHint(hint) {
  const [flagPart, email] = (hint || '').includes('~') ? hint.split('~') : ['', hint || 'alice@example.com'];
  const flags = new Set(flagPart.split('+').filter(Boolean));
  const local = email.split('@')[0] || 'user';
  return { email, flags, name: local.charAt(0).toUpperCase() + local.slice(1) };
}

function signRS256(header, payload, privateKey) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = crypto.sign('RSA-SHA256', Buffer.from(input), privateKey);
  return `${input}.${b64url(sig)}`;
}

// Keys for the two re-signing cases, made once.
const unknownKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
let rotations = 0;

const byCode = new Map();

server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  const info = parseHint(req.query.login_hint);
  if (code) byCode.set(code, info);
  redirect.url.searchParams.set('iss', info.flags.has('bad-iss-param') ? 'http://evil.example' : issuer);
});

server.service.on('beforeTokenSigning', (token, req) => {
  const info = byCode.get(req.body.code);
  if (!info) return;
  const p = token.payload;
  const now = Math.floor(Date.now() / 1000);
  p.sub = `sub-${info.email}`;
  if (!info.flags.has('userinfo')) {
    p.email = info.email;
    p.email_verified = !info.flags.has('unverified');
    if (!info.flags.has('noname')) p.name = info.name;
  }
  if (info.flags.has('wrong-nonce') && p.nonce) p.nonce = 'not-the-nonce';
  if (info.flags.has('wrong-aud')) p.aud = 'another-client';
  if (info.flags.has('wrong-iss')) p.iss = 'http://evil.example';
  if (info.flags.has('expired')) { p.iat = now - 1200; p.nbf = now - 1200; p.exp = now - 600; }
  if (info.flags.has('future-iat')) { p.iat = now + 3600; p.exp = now + 7200; }
  if (info.flags.has('azp-other') && typeof p.aud === 'string') { p.aud = [p.aud, 'other-client']; p.azp = 'other-client'; }
  if (info.flags.has('multi-aud-no-azp') && typeof p.aud === 'string') { p.aud = [p.aud, 'other-client']; delete p.azp; }
});

server.service.on('beforeResponse', (response, req) => {
  const info = byCode.get(req.body.code);
  if (!info || !response.body.id_token) return;
  if (info.flags.has('require-post') && (req.headers.authorization || !req.body.client_secret)) {
    response.statusCode = 401;
    response.body = { error: 'invalid_client', error_description: 'client_secret_post only' };
    return;
  }
  const [, payloadPart] = response.body.id_token.split('.');
  const payload = decode(payloadPart);
  if (info.flags.has('alg-none')) {
    response.body.id_token = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payloadPart}.`;
  } else if (info.flags.has('hs256-pubkey')) {
    const { kid } = decode(response.body.id_token.split('.')[0]);
    const jwk = server.issuer.keys.toJSON(false).find((k) => k.kid === kid);
    const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid }))}.${payloadPart}`;
    response.body.id_token = `${input}.${b64url(crypto.createHmac('sha256', pem).update(input).digest())}`;
  } else if (info.flags.has('unknown-key')) {
    response.body.id_token = signRS256({ alg: 'RS256', typ: 'JWT', kid: 'unknown-key' }, payload, unknownKey.privateKey);
  } else if (info.flags.has('rotate')) {
    rotations += 1;
    const fresh = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = `rotated-${rotations}`;
    const jwk = { ...fresh.privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
    // Published before the response leaves: the client's re-discovery will find it.
    server.issuer.keys.add(jwk);
    response.body.id_token = signRS256({ alg: 'RS256', typ: 'JWT', kid }, payload, fresh.privateKey);
  }
  byCode.delete(req.body.code);
});

server.service.on('beforeUserinfo', (response, req) => {
  const auth = req.headers.authorization || '';
  const token = auth.replace(/^Bearer\s+/i, '');
  try {
    const payload = decode(token.split('.')[1]);
    const email = payload.sub.replace(/^sub-/, '');
    response.body = {
      sub: payload.sub,
      properties: { nickname: `Nick ${email.split('@')[0]}` },
      kakao_account: { email, is_email_verified: true },
    };
  } catch {
    response.statusCode = 401;
    response.body = { error: 'invalid_token' };
  }
});

console.log(JSON.stringify({ issuer }));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
