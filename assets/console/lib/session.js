// The bearer token of this tab. It lives in sessionStorage: it survives a reload and dies with
// the tab, and no other tab or later user of the browser finds it.

const KEY = 'license-manager:token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
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
