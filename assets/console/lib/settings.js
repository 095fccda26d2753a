// The tabs over the settings pages. A viewer has no settings page but Providers, so sees no
// tabs: only admins may manage API tokens, and the console shows no control that would fail.

import { html } from '../vendor/htm-preact.js';
import { Link } from './router.js';
import { useIsAdmin } from './ui.js';

const SETTINGS = [
  { to: '/settings/providers', label: 'Providers' },
  { to: '/settings/api-tokens', label: 'API tokens', adminOnly: true },
];

export function SettingsTabs({ current }) {
  const isAdmin = useIsAdmin();
  const shown = SETTINGS.filter(page => !page.adminOnly || isAdmin);
  if (shown.length < 2) return null;
  return html`
    <nav class="settings-tabs" aria-label="Settings">
      <ul>
        ${shown.map(page => html`
          <li><${Link} to=${page.to} aria-current=${page.to === current ? 'page' : undefined}>${page.label}</${Link}></li>`)}
      </ul>
    </nav>`;
}
