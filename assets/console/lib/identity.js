// Sign-in with the organization's identity provider (OpenID Connect): the authorization code
// flow with PKCE, run by the browser as a public client — no secret anywhere in the console.
// The provider sends the person back to /sign-in with a one-time code, which this tab redeems
// for an access token (for the API) and a refresh token (to renew it without a new sign-in,
// for as long as the provider lets it live: a day, for Entra ID).

import { identity, signIn, signOut, stored, token } from './session.js';

// What a sign-in started in this tab must find when the provider sends the person back.
const PENDING = 'license-manager:sign-in-pending';
// Renew when a quarter of the token's life is left and at least this long before it ends —
// but never in its first half, so that a short-lived token is not renewed over and over.
const RENEW_AHEAD_MS = 60_000;
// Before a request: a token this close to its end is renewed first (a background tab's timers
// may have been held back).
const STALE_MS = 10_000;
// After a renewal failed for a reason that may pass (the provider did not answer).
const RETRY_MS = 30_000;

export class SignInError extends Error {
  // `hint`: what to do about it; the API's hints (lib/api.js) speak of the server, not of the
  // provider, so none of them is shown for these.
  constructor(message, code = 'SIGN_IN_FAILED', hint = '') {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

// The provider the server names (`GET /auth/identity-provider`), or null when the console signs
// in with tokens only. Throws a SignInError when the server knows one but cannot reach it yet.
export async function identityProvider() {
  let response;
  try {
    response = await fetch('/auth/identity-provider', { headers: { accept: 'application/json' } });
  } catch (offline) {
    throw new SignInError('The server cannot be reached.', 'NETWORK');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new SignInError(body?.errors?.[0]?.message ?? `The server answered HTTP ${response.status}.`, 'UNAVAILABLE');
  }
  return body?.identityProvider ?? null;
}

export function redirectUri() {
  return `${window.location.origin}/sign-in`;
}

// Sends the person to the provider. `next`: the console's path to show once signed in.
export async function startSignIn(provider, next) {
  const verifier = randomText(32);
  const state = randomText(16);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier, next, provider }));
  const address = new URL(provider.authorizationEndpoint);
  for (const [name, value] of Object.entries({
    client_id: provider.clientId,
    response_type: 'code',
    redirect_uri: redirectUri(),
    response_mode: 'query',
    scope: provider.scope,
    state,
    nonce: randomText(16),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) address.searchParams.set(name, value);
  window.location.assign(address.href);
}

// Whether this address is the provider's answer to a sign-in (`?code=…` or `?error=…`).
export function isProviderAnswer(query) {
  return query.has('state') && (query.has('code') || query.has('error'));
}

// Redeems the provider's answer; gives back the path to show. The code is single-use and the
// answer is taken off the address at once, so that a reload or Back does not present it again.
export async function finishSignIn(query) {
  const pending = stored(PENDING);
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', '/sign-in');
  if (!pending || pending.state !== query.get('state')) {
    throw new SignInError('This answer of the identity provider does not belong to a sign-in started in this tab. Sign in again.');
  }
  if (query.has('error')) {
    throw new SignInError(`The identity provider did not sign you in: ${query.get('error_description') || query.get('error')}`, query.get('error'));
  }
  const tokens = await tokenRequest(pending.provider, {
    grant_type: 'authorization_code',
    code: query.get('code'),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
    scope: pending.provider.scope,
  });
  keep(tokens, pending.provider, null);
  return pending.next ?? '/';
}

// Forgets this tab's sign-in; after a sign-in with the provider, ends the provider's session
// too (when it offers that), or the next "Sign in" would sign the same person in silently.
export function signOutEverywhere() {
  const kept = identity();
  signOut();
  clearTimeout(renewal);
  const end = kept?.provider?.endSessionEndpoint;
  if (!end) return false;
  const address = new URL(end);
  address.searchParams.set('post_logout_redirect_uri', redirectUri());
  address.searchParams.set('client_id', kept.provider.clientId);
  window.location.assign(address.href);
  return true;
}

let renewal = null;
let renewing = null;

// Plans the next renewal of a token from the provider; nothing for a pasted token.
export function keepRenewing() {
  clearTimeout(renewal);
  const kept = identity();
  if (!kept?.refreshToken) return;
  const life = kept.expiresAt - kept.issuedAt;
  const at = kept.expiresAt - Math.min(Math.max(life / 4, RENEW_AHEAD_MS), life / 2);
  renewal = setTimeout(() => renew().catch(() => {}), Math.max(0, at - Date.now()));
}

// Before a request: renews first a token at its end, when it can be renewed.
export async function ensureFresh() {
  const kept = identity();
  if (kept?.refreshToken && kept.expiresAt - Date.now() < STALE_MS) {
    await renew().catch(() => {});
  }
}

// One renewal at a time: the provider's refresh tokens work once each.
function renew() {
  renewing ??= renewOnce().finally(() => { renewing = null; });
  return renewing;
}

async function renewOnce() {
  const kept = identity();
  if (!kept?.refreshToken) return;
  try {
    const tokens = await tokenRequest(kept.provider, {
      grant_type: 'refresh_token',
      refresh_token: kept.refreshToken,
      scope: kept.provider.scope,
    });
    // Signed out meanwhile (another request found the token refused): stay signed out.
    if (!token()) return;
    keep(tokens, kept.provider, kept.refreshToken);
  } catch (failed) {
    // A refused refresh token (past the sign-in's lifetime, revoked) will not work again: the
    // access token serves until it ends, then the console asks for a new sign-in.
    if (failed.code === 'NETWORK' || failed.code === 'temporarily_unavailable') {
      renewal = setTimeout(() => renew().catch(() => {}), RETRY_MS);
    }
    throw failed;
  }
}

function keep(tokens, provider, previousRefreshToken) {
  const issuedAt = Date.now();
  signIn(tokens.access_token, {
    provider,
    // Providers that rotate refresh tokens send a new one each time; others keep the first.
    refreshToken: tokens.refresh_token ?? previousRefreshToken,
    issuedAt,
    expiresAt: issuedAt + Number(tokens.expires_in ?? 3600) * 1000,
  });
  keepRenewing();
}

// A request to the provider's token endpoint, from this page's origin (the provider answers it
// with CORS headers for a single-page application's redirect URI).
async function tokenRequest(provider, parameters) {
  let response;
  try {
    response = await fetch(provider.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: provider.clientId, ...parameters }),
    });
  } catch (offline) {
    throw new SignInError('The identity provider cannot be reached.', 'NETWORK', 'Check the network connection, then sign in again.');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok || !body?.access_token) {
    throw new SignInError(
      `The identity provider refused the sign-in: ${body?.error_description ?? body?.error ?? `HTTP ${response.status}`}`,
      body?.error ?? 'SIGN_IN_FAILED',
    );
  }
  return body;
}

function randomText(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(buffer) {
  const text = String.fromCharCode(...new Uint8Array(buffer));
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

