// Pages by path, with the History API: every page has its own URL, reload and back work, and
// a page's filters live in its query string.

import { html, useEffect, useState } from '../vendor/htm-preact.js';

const listeners = new Set();

export function navigate(to, { replace = false } = {}) {
  if (to === currentPath()) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach(listener => listener());
}

function currentPath() {
  return window.location.pathname + window.location.search;
}

window.addEventListener('popstate', () => listeners.forEach(listener => listener()));

// The current location, re-rendering the caller when it changes.
export function useLocation() {
  const [location, setLocation] = useState(() => snapshot());
  useEffect(() => {
    const update = () => setLocation(snapshot());
    listeners.add(update);
    return () => listeners.delete(update);
  }, []);
  return location;
}

function snapshot() {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

// Matches `path` against patterns like `/licenses/:id`; gives the pattern's handler and params.
export function match(routes, path) {
  for (const [pattern, handler] of routes) {
    const names = [];
    const expression = new RegExp('^' + pattern.replace(/:(\w+)/g, (_, name) => {
      names.push(name);
      return '([^/]+)';
    }) + '/?$');
    const found = expression.exec(path);
    if (found) {
      const params = Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(found[index + 1])]));
      return { handler, params };
    }
  }
  return null;
}

// Replaces the query string (a page's filters) without a new history entry per keystroke.
export function setQuery(values, { replace = true } = {}) {
  const query = new URLSearchParams();
  Object.entries(values).forEach(([name, value]) => {
    if (value !== undefined && value !== null && value !== '' && value !== false) query.set(name, value);
  });
  const search = query.toString();
  navigate(window.location.pathname + (search ? `?${search}` : ''), { replace });
}

// An in-app link: a real <a href> (open in a new tab works) that navigates without reloading.
export function Link({ to, children, ...rest }) {
  const onClick = event => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return html`<a href=${to} onClick=${onClick} ...${rest}>${children}</a>`;
}
