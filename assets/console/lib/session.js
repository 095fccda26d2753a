// The bearer token of this tab. It lives in sessionStorage: it survives a reload and dies with
// the tab, and no other tab or later user of the browser finds it. A sign-in with the identity
// provider keeps beside it what renewing the token needs (lib/identity.js).

const KEY = 'license-manager:token';
const IDENTITY = 'license-manager:identity';

export function token() {
  return sessionStorage.getItem(KEY);
}

// `identity`: the provider's refresh token, the token's expiry and the provider's endpoints,
// for a sign-in with the identity provider; none for a pasted token.
export function signIn(value, identity = null) {
  sessionStorage.setItem(KEY, value.trim());
  if (identity) sessionStorage.setItem(IDENTITY, JSON.stringify(identity));
  else sessionStorage.removeItem(IDENTITY);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(IDENTITY);
}

export function identity() {
  return stored(IDENTITY);
}

// A JSON value this tab kept under `key`, or null.
export function stored(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key));
  } catch (unreadable) {
    return null;
  }
}

// A sign-in link carries the token in the fragment (`/sign-in#token=…`), which browsers never
// send to a server. It is taken into the session and removed from the address bar and the
// history at once, so that it is not bookmarked, shared or shown over a shoulder.
export function takeTokenFromAddress() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const carried = fragment.get('token');
  if (!carried) return false;
  signIn(carried);
  const here = window.location.pathname === '/sign-in' ? '/' : window.location.pathname + window.location.search;
  history.replaceState(null, '', safeNext(fragment.get('next')) ?? here);
  return true;
}

// Only a path of this console: a link must not send the signed-in user elsewhere.
export function safeNext(next) {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : null;
}
