// Settings → Providers: the tenants licenses come from. The setup path of a fresh install
// (register the app in Entra ID, add the provider here, test, sync) and the day-to-day care of
// each provider: its status, secret expiry, syncs (live), edits and deletion. Viewers see the
// same status without the controls.

import { html, useEffect, useState } from '../vendor/htm-preact.js';
import { graphql } from '../lib/api.js';
import {
  Badge, ConfirmDialog, Empty, ErrorBox, Loading, Page, daysUntil, formatDate, formatDateTime, formatNumber, useIsAdmin, useQuery,
} from '../lib/ui.js';
import { SettingsTabs } from '../lib/settings.js';
import { PROVIDER_FIELDS, ProviderForm, SetupSteps, cloudLabel } from './provider-form.js';
import { LiveRun, RUN_FIELDS, RunOutcome, RunStatus, SyncHistory, isActive, modeLabel, runTime } from './sync-run.js';

const PROVIDERS = `query Providers {
  providers { ${PROVIDER_FIELDS} lastSyncRun { ${RUN_FIELDS} } }
}`;

export default function Providers() {
  const isAdmin = useIsAdmin();
  const { data, error, reload } = useQuery(PROVIDERS, {});
  const [adding, setAdding] = useState(false);
  const [message, setMessage] = useState(null);
  const [created, setCreated] = useState(null);

  const add = () => {
    setMessage(null);
    setAdding(true);
  };
  const onCreated = provider => {
    setAdding(false);
    setCreated(provider.id);
    setMessage(`${provider.name} was added. Test the connection, then start its first sync.`);
    reload();
  };
  const onDeleted = name => {
    setMessage(`${name} was deleted, with its users, license SKUs and sync history.`);
    reload();
  };

  const providers = data?.providers;
  const actions = isAdmin && providers?.length && !adding
    ? html`<button type="button" onClick=${add}>Add Microsoft 365</button>` : null;
  return html`
    <${Page} title="Providers" actions=${actions} above=${html`<${SettingsTabs} current="/settings/providers" />`}>
      <p class="muted page-intro">Settings · Where licenses come from: each provider is one Microsoft 365 tenant, read through an app registration in Entra ID. Nothing is ever changed in the tenant.</p>
      ${message ? html`<div class="success" role="status"><p>${message}</p></div>` : null}
      ${adding ? html`
        <section class="panel add-provider" aria-labelledby="add-heading">
          <h2 id="add-heading">Add Microsoft 365</h2>
          <div class="add-layout">
            <${ProviderForm} onSaved=${onCreated} onCancel=${() => setAdding(false)} />
            <${SetupSteps} />
          </div>
        </section>` : null}
      ${error && !data ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : null}
      ${!data && !error ? html`<${Loading} />` : null}
      ${providers && !providers.length && !adding ? html`<${FirstProvider} isAdmin=${isAdmin} onAdd=${add} />` : null}
      ${error && data ? html`<${ErrorBox} error=${error} title="Could not refresh" onRetry=${reload} />` : null}
      ${providers?.map(provider => html`
        <${ProviderCard} key=${provider.id} provider=${provider} isAdmin=${isAdmin} isNew=${provider.id === created}
          onChanged=${reload} onDeleted=${onDeleted} />`)}
    </${Page}>`;
}

// A fresh install: what to do first.
function FirstProvider({ isAdmin, onAdd }) {
  return html`
    <${Empty}>
      <h2>No provider yet</h2>
      <p>Connect a Microsoft 365 tenant to see its licenses and who holds them: register an app in
        Entra ID with read permissions, add it here, test the connection, then sync.</p>
      ${isAdmin
        ? html`<p><button type="button" onClick=${onAdd}>Add Microsoft 365</button></p>`
        : html`<p>Only an admin can add one: ask an admin of license-manager.</p>`}
      <p><a href="/docs/microsoft-365" target="_blank" rel="noopener">How to connect a tenant (setup guide)</a></p>
    </${Empty}>`;
}

function secretDays(provider) {
  return provider.clientSecretExpiresAt ? daysUntil(provider.clientSecretExpiresAt) : null;
}

// The client secret: its hint, its expiry, and what to do when it needs attention.
function SecretFacts({ provider }) {
  const days = secretDays(provider);
  const hint = provider.clientSecretHint ? html`<code>…${provider.clientSecretHint}</code>` : html`<span class="muted">hidden</span>`;
  const status = {
    EXPIRED: html`<${Badge} tone="bad">Expired</${Badge}>`,
    EXPIRING_SOON: html`<${Badge} tone="warn">Expires in ${days === 1 ? '1 day' : `${Math.max(days, 0)} days`}</${Badge}>`,
    VALID: html`<${Badge} tone="good">Valid</${Badge}>`,
    UNKNOWN: html`<span class="muted">expiry not entered</span>`,
  }[provider.clientSecretStatus];
  return html`
    ${hint}${provider.clientSecretExpiresAt ? html` · expires ${formatDate(provider.clientSecretExpiresAt)}` : null}
    ${' '}<span data-test="secret-status" data-status=${provider.clientSecretStatus}>${status}</span>`;
}

// Warnings that need an admin: a secret expired, expiring, or that this server cannot open.
function SecretWarnings({ provider, isAdmin }) {
  const who = isAdmin ? '' : ' Ask an admin to do it.';
  const warnings = [];
  if (!provider.clientSecretReadable) {
    warnings.push(html`
      <div class="error-box" role="alert" data-test="secret-unreadable">
        <p><strong>This server cannot open the stored client secret.</strong> It was sealed with a key this
          server does not have (LM_SECRET_KEY changed, or differs between hosts): connection tests and syncs fail.</p>
        <p class="hint">Give the server the old key after the new one (<code>LM_SECRET_KEY=NEW,OLD</code>), or
          enter the client secret again under Edit.${who}</p>
      </div>`);
  }
  if (provider.clientSecretStatus === 'EXPIRED') {
    warnings.push(html`
      <div class="error-box" role="alert">
        <p><strong>The client secret expired on ${formatDate(provider.clientSecretExpiresAt)}:</strong> syncs fail until a new one is entered.</p>
        <p class="hint">In Entra ID, create a new secret under Certificates & secrets, then enter its Value under Edit → New client secret, with its expiry.${who}</p>
      </div>`);
  } else if (provider.clientSecretStatus === 'EXPIRING_SOON') {
    const days = secretDays(provider);
    warnings.push(html`
      <div class="notice">
        <p><strong>The client secret expires ${days <= 0 ? 'today' : `in ${days === 1 ? '1 day' : `${days} days`}`} (${formatDate(provider.clientSecretExpiresAt)}).</strong></p>
        <p class="hint">Create a second secret under Certificates & secrets, enter its Value under Edit → New client secret with its expiry, then delete the old one.${who}</p>
      </div>`);
  }
  return warnings;
}

function LastRun({ run }) {
  if (!run) return html`<span class="muted" data-test="last-run-status" data-status="NONE">Never synced</span>`;
  return html`
    <span data-test="last-run-status" data-status=${run.status}><${RunStatus} run=${run} /></span>
    <span class="muted"> ${formatDateTime(runTime(run))} · ${modeLabel(run)}${run.trigger ? ` · ${run.trigger}` : ''}</span>`;
}

function interval(minutes) {
  if (minutes == null) return 'Manual only';
  if (minutes % 1440 === 0) return minutes === 1440 ? 'Every day' : `Every ${minutes / 1440} days`;
  if (minutes % 60 === 0) return minutes === 60 ? 'Every hour' : `Every ${minutes / 60} hours`;
  return `Every ${minutes} minutes`;
}

const START = `mutation StartSync($providerId: ID!, $mode: SyncMode) {
  startSync(providerId: $providerId, mode: $mode) { ${RUN_FIELDS} }
}`;
const LAST_RUN = `query LastRun($id: ID!) { provider(id: $id) { lastSyncRun { ${RUN_FIELDS} } } }`;

function ProviderCard({ provider, isAdmin, isNew, onChanged, onDeleted }) {
  const last = provider.lastSyncRun;
  // The run followed live: the running one when the page opens, or one this page started.
  const [followed, setFollowed] = useState(() => (isActive(last) ? { id: last.id, initial: last } : null));
  const [panel, setPanel] = useState(null);
  const [historyKey, setHistoryKey] = useState(0);
  const [showHistory, setShowHistory] = useState(false);
  const [saved, setSaved] = useState(null);
  const headingId = `provider-${provider.id}-name`;

  // A run started elsewhere (the schedule, another admin) is followed too once the list shows it.
  useEffect(() => {
    if (isActive(last) && followed?.id !== last.id) setFollowed({ id: last.id, initial: last });
  }, [last?.id, last?.status]);

  const ended = () => {
    setFollowed(current => current && { ...current, ended: true });
    setHistoryKey(value => value + 1);
    onChanged();
  };
  const toggle = name => setPanel(current => (current === name ? null : name));

  // `elementtiming` lets the Element Timing API report when the list first painted: the
  // console's first-load figure (tests/it/console/first_load.rs).
  return html`
    <article class="panel provider" data-test="provider" data-provider-id=${provider.id} aria-labelledby=${headingId}>
      <header class="provider-head">
        <h2 id=${headingId} elementtiming="providers">${provider.name}</h2>
        <span data-test="provider-status" data-enabled=${String(provider.enabled)}>
          ${provider.enabled ? html`<${Badge} tone="good">Enabled</${Badge}>` : html`<${Badge}>Disabled</${Badge}>`}
        </span>
      </header>
      <dl class="facts provider-facts">
        <dt>Tenant</dt><dd><code class="wrap">${provider.tenantId}</code> <span class="muted">· ${cloudLabel(provider.cloud)}</span></dd>
        <dt>Users</dt><dd data-test="user-count">${formatNumber(provider.userCount)}</dd>
        <dt>Last sync</dt><dd><${LastRun} run=${last} /></dd>
        <dt>Schedule</dt><dd>${interval(provider.syncIntervalMinutes)}${provider.enabled ? '' : html` <span class="muted">(paused: disabled)</span>`}</dd>
        <dt>Client secret</dt><dd><${SecretFacts} provider=${provider} /></dd>
        <dt class="hide-narrow">Client ID</dt><dd class="hide-narrow"><code class="wrap">${provider.clientId}</code></dd>
      </dl>
      <${SecretWarnings} provider=${provider} isAdmin=${isAdmin} />
      ${isNew && !last && !followed ? html`<div class="notice"><p><strong>Next:</strong> press <em>Test connection</em> to check the app registration, then <em>Sync now</em>.</p></div>` : null}
      ${!followed && last && !isActive(last) ? html`<${RunOutcome} run=${last} />` : null}
      ${saved ? html`<div class="success" role="status"><p>${saved}</p></div>` : null}
      ${isAdmin ? html`
        <div class="provider-actions">
          <${SyncControl} provider=${provider} running=${Boolean(followed) && !followed.ended}
            onFollow=${run => setFollowed({ id: run.id, initial: run })} onChanged=${onChanged} />
          <button type="button" class="secondary" aria-expanded=${panel === 'test'} onClick=${() => toggle('test')}>Test connection</button>
          <button type="button" class="secondary" aria-expanded=${panel === 'edit'} onClick=${() => { setSaved(null); toggle('edit'); }}>Edit</button>
          <button type="button" class="secondary danger-text" onClick=${() => setPanel('delete')}>Delete</button>
        </div>` : null}
      ${followed ? html`
        <${LiveRun} key=${followed.id} runId=${followed.id} initial=${followed.initial} onEnded=${ended}
          onDismiss=${() => setFollowed(null)} />` : null}
      ${panel === 'test' ? html`<${ConnectionTest} provider=${provider} onClose=${() => setPanel(null)} />` : null}
      ${panel === 'edit' ? html`
        <section class="subpanel" aria-label=${`Edit ${provider.name}`}>
          <h3>Edit ${provider.name}</h3>
          <${ProviderForm} provider=${provider} onCancel=${() => setPanel(null)}
            onSaved=${updated => { setPanel(null); setSaved(`Saved the changes to ${updated.name}.`); onChanged(); }} />
        </section>` : null}
      ${panel === 'delete' ? html`
        <${DeleteDialog} provider=${provider} onClose=${() => setPanel(null)}
          onDeleted=${() => { setPanel(null); onDeleted(provider.name); }} />` : null}
      <details class="history" onToggle=${event => setShowHistory(event.currentTarget.open)}>
        <summary>Sync history</summary>
        ${showHistory ? html`<${SyncHistory} providerId=${provider.id} refresh=${historyKey} />` : null}
      </details>
    </article>`;
}

const MODES = [
  ['AUTO', 'Auto (incremental when possible)'],
  ['FULL', 'Full (read everything)'],
  ['DELTA', 'Delta (only changes)'],
];

// Sync now, with a mode. A sync already running (CONFLICT) is followed instead.
function SyncControl({ provider, running, onFollow, onChanged }) {
  const [mode, setMode] = useState('AUTO');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const id = `sync-mode-${provider.id}`;
  // The CONFLICT's explanation holds while the run it points to is followed.
  useEffect(() => {
    if (!running) setError(current => (current?.code === 'CONFLICT' ? null : current));
  }, [running]);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      onFollow((await graphql(START, { providerId: provider.id, mode })).startSync);
    } catch (failure) {
      if (failure.code === 'CONFLICT') {
        failure.hint = 'A sync of this provider is already queued or running: its progress is shown below.';
        setError(failure);
        await followRunning(provider.id, onFollow, setError);
      } else {
        setError(failure);
      }
      onChanged();
    } finally {
      setBusy(false);
    }
  };

  return html`
    <div class="sync-control">
      <label for=${id}>Mode</label>
      <select id=${id} value=${mode} onChange=${event => setMode(event.target.value)}>
        ${MODES.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
      </select>
      <button type="button" onClick=${start} disabled=${busy || running}>${busy ? 'Starting…' : running ? 'Syncing…' : 'Sync now'}</button>
      ${error ? html`<div class="sync-error"><${ErrorBox} error=${error} title="Sync not started" /></div>` : null}
    </div>`;
}

async function followRunning(providerId, onFollow, setError) {
  try {
    const run = (await graphql(LAST_RUN, { id: providerId })).provider?.lastSyncRun;
    if (run) onFollow(run);
  } catch (failure) {
    setError(failure);
  }
}

const TEST = `mutation TestConnection($id: ID!) {
  testProviderConnection(id: $id) { ok checks { name ok warning code message hint } }
}`;

const CHECK_LABELS = {
  token: 'Sign-in (access token)',
  organization: 'Organization',
  users: 'Users',
  subscriptions: 'Subscriptions and SKUs',
  signInActivity: 'Sign-in activity',
  licenseWrite: 'Changing licenses (reclaim, optional)',
};

// A check of something optional warns rather than fails: syncs work without it.
const outcome = check => (check.ok ? 'ok' : check.warning ? 'warning' : 'failed');
const MARKS = { ok: '✓', warning: '!', failed: '✗' };
const WORDS = { ok: 'passed', warning: 'warning', failed: 'failed' };

// Runs the connection test on opening, and on "Test again".
function ConnectionTest({ provider, onClose }) {
  const [state, setState] = useState({ result: null, error: null, busy: true });
  const run = () => {
    setState({ result: null, error: null, busy: true });
    graphql(TEST, { id: provider.id }).then(
      data => setState({ result: data.testProviderConnection, error: null, busy: false }),
      error => setState({ result: null, error, busy: false }),
    );
  };
  useEffect(run, [provider.id]);
  const { result, error, busy } = state;
  const failed = result?.checks.filter(check => outcome(check) === 'failed').length ?? 0;
  return html`
    <section class="subpanel" aria-label=${`Connection test of ${provider.name}`}>
      <h3>Connection test</h3>
      ${busy ? html`<${Loading} label="Signing in to the tenant and trying each read…" />` : null}
      <${ErrorBox} error=${error} title="The test could not run" />
      ${result ? html`
        <p role="status" class=${result.ok ? 'success' : 'notice'}>
          ${result.ok ? 'Every check passed: syncs can read everything they need.'
            : `${failed} of ${result.checks.length} checks failed.`}
        </p>
        <ul class="checks">
          ${result.checks.map(check => html`
            <li class=${outcome(check)} data-test="check" data-check-name=${check.name} data-ok=${String(check.ok)} data-warning=${String(check.warning)}>
              <span class="check-mark" aria-hidden="true">${MARKS[outcome(check)]}</span>
              <div>
                <p><strong>${CHECK_LABELS[check.name] ?? check.name}</strong> <span class="muted">(${check.name})</span>${' — '}${WORDS[outcome(check)]}${check.code ? html` <code class="code">${check.code}</code>` : null}</p>
                <p>${check.message}</p>
                ${check.hint ? html`<p class="hint">${check.hint}</p>` : null}
              </div>
            </li>`)}
        </ul>` : null}
      <div class="actions">
        <button type="button" class="secondary" disabled=${busy} onClick=${run}>Test again</button>
        <button type="button" class="secondary" onClick=${onClose}>Close</button>
      </div>
    </section>`;
}

const DELETE = 'mutation DeleteProvider($id: ID!) { deleteProvider(id: $id) }';

// Names the provider and what goes with it.
function DeleteDialog({ provider, onClose, onDeleted }) {
  const remove = async () => {
    await graphql(DELETE, { id: provider.id });
    onDeleted();
  };
  return html`
    <${ConfirmDialog} id=${`delete-${provider.id}`} title=${`Delete ${provider.name}?`}
      confirmLabel=${`Delete ${provider.name}`} busyLabel="Deleting…" errorTitle="Not deleted"
      onConfirm=${remove} onClose=${onClose}>
      <p>This removes the provider and everything synced from it:</p>
      <ul>
        <li>its ${formatNumber(provider.userCount)} users and their license assignments,</li>
        <li>its license SKUs, with the prices entered for them,</li>
        <li>its sync history.</li>
      </ul>
      <p>Nothing changes in the Microsoft 365 tenant, and the audit log keeps a record of the deletion. To see the tenant here again, add it again and sync.</p>
    </${ConfirmDialog}>`;
}
