// The console's shell: sign-in, the signed-in viewer and role, navigation, and the page for
// the current path. Each page is a module of pages/, loaded when first shown.

import { html, render, useEffect, useState } from './vendor/htm-preact.js';
import { graphql, onSignedOut } from './lib/api.js';
import { Link, match, navigate, useLocation } from './lib/router.js';
import { keepRenewing, signOutEverywhere } from './lib/identity.js';
import { takeTokenFromAddress, token } from './lib/session.js';
import { ErrorBox, Loading, ViewerContext } from './lib/ui.js';

// Path → page module. Kept in step with the server's list of console paths (src/http/console.rs).
const ROUTES = [
  ['/', () => import('./pages/home.js')],
  ['/settings/providers', () => import('./pages/providers.js')],
  ['/settings/api-tokens', () => import('./pages/api-tokens.js')],
  ['/licenses', () => import('./pages/licenses.js')],
  ['/licenses/:id', () => import('./pages/sku.js')],
  ['/users', () => import('./pages/users.js')],
  ['/waste', () => import('./pages/waste.js')],
  ['/reclaim', () => import('./pages/reclaim.js')],
  ['/reclaim/:id', () => import('./pages/reclaim.js')],
  ['/history', () => import('./pages/history.js')],
  ['/renewals', () => import('./pages/renewals.js')],
  ['/audit', () => import('./pages/audit.js')],
];

const NAVIGATION = [
  { to: '/licenses', label: 'Licenses' },
  { to: '/users', label: 'Users' },
  { to: '/waste', label: 'Waste' },
  { to: '/reclaim', label: 'Reclaim' },
  { to: '/history', label: 'History' },
  { to: '/renewals', label: 'Renewals' },
  // `section`: the entry stays marked on every page under it (Settings has tabs, lib/settings.js).
  { to: '/settings/providers', section: '/settings/', label: 'Settings' },
  { to: '/audit', label: 'Audit log', adminOnly: true },
];

function App() {
  const location = useLocation();
  const [viewer, setViewer] = useState(null);
  const [failure, setFailure] = useState(null);
  const [signedIn, setSignedIn] = useState(() => Boolean(token()));

  useEffect(() => onSignedOut(() => {
    setViewer(null);
    setSignedIn(false);
  }), []);

  useEffect(() => {
    if (!signedIn) return;
    setFailure(null);
    graphql('query Viewer { viewer { subject displayName role } }').then(data => setViewer(data.viewer), setFailure);
  }, [signedIn]);

  if (location.path === '/sign-in' || !signedIn) {
    return html`<${SignInRoute} location=${location} onSignedIn=${() => setSignedIn(true)} />`;
  }
  const leave = () => {
    // After a sign-in with the identity provider, its sign-out page leads back to /sign-in.
    if (signOutEverywhere()) return;
    setViewer(null);
    setSignedIn(false);
    navigate('/sign-in', { replace: true });
  };
  if (failure) {
    // Signed in as someone the API refuses (no role of it, say): retry, or sign in as another.
    return html`
      <main class="boot" id="main">
        <${ErrorBox} error=${failure} title="You cannot use the console" onRetry=${() => { setSignedIn(false); setSignedIn(true); }} />
        <button type="button" class="secondary" onClick=${leave}>Sign out</button>
      </main>`;
  }
  if (!viewer) return html`<main class="boot"><${Loading} label="Signing in…" /></main>`;

  return html`
    <${ViewerContext.Provider} value=${viewer}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <${Link} to="/" class="brand">license-manager</${Link}>
        <nav aria-label="Main">
          <ul>
            ${NAVIGATION.filter(item => !item.adminOnly || viewer.role === 'ADMIN').map(item => html`
              <li><${Link} to=${item.to} aria-current=${location.path.startsWith(item.section ?? item.to) ? 'page' : undefined}>${item.label}</${Link}></li>`)}
          </ul>
        </nav>
        <div class="who">
          <span title=${`Signed in as ${viewer.subject}`}>${viewer.displayName ?? viewer.subject}</span>
          <span class="role">${viewer.role === 'ADMIN' ? 'admin' : 'viewer'}</span>
          <button type="button" class="link" onClick=${leave}>Sign out</button>
        </div>
      </header>
      <main id="main" tabindex="-1"><${Routed} location=${location} /></main>
    </${ViewerContext.Provider}>`;
}

function SignInRoute({ location, onSignedIn }) {
  const [module, setModule] = useState(null);
  useEffect(() => { import('./pages/sign-in.js').then(setModule); }, []);
  if (!module) return html`<main class="boot"><${Loading} /></main>`;
  return html`<${module.default} location=${location} onSignedIn=${onSignedIn} />`;
}

// Loads the module of the current path and shows its page; a path no page has shows so.
function Routed({ location }) {
  const found = match(ROUTES, location.path);
  const [loaded, setLoaded] = useState({ path: null, module: null, error: null });
  useEffect(() => {
    if (!found) return;
    let current = true;
    found.handler().then(
      module => current && setLoaded({ path: location.path, module, error: null }),
      error => current && setLoaded({ path: location.path, module: null, error }),
    );
    return () => { current = false; };
  }, [location.path]);
  useEffect(() => { document.getElementById('main')?.focus({ preventScroll: true }); }, [location.path]);

  if (!found) {
    return html`<section class="page"><h1>Page not found</h1><p>No page at <code>${location.path}</code>. <${Link} to="/">Go to the start page</${Link}>.</p></section>`;
  }
  if (loaded.error) return html`<${ErrorBox} error=${loaded.error} onRetry=${() => window.location.reload()} />`;
  if (loaded.path !== location.path || !loaded.module) return html`<${Loading} />`;
  const Page = loaded.module.default;
  return html`<${Page} params=${found.params} query=${location.query} />`;
}

takeTokenFromAddress();
// A reload keeps the tab's sign-in: its token from the identity provider is renewed as before.
keepRenewing();
// A sign-in link followed in a tab already on the console only changes the fragment, which
// loads nothing: take its token and start again as whoever it signs in.
window.addEventListener('hashchange', () => {
  if (takeTokenFromAddress()) window.location.reload();
});
const root = document.getElementById('app');
// Preact renders beside existing children: the "Loading" line goes first.
root.textContent = '';
render(html`<${App} />`, root);
