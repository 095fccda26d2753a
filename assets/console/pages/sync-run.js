// A sync run as the Settings page shows it: followed live over the `syncRunUpdated`
// subscription while it runs, then its outcome (warnings, error with code and hint); and a
// provider's short sync history.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { graphql, subscribe } from '../lib/api.js';
import { Badge, ErrorBox, Loading, formatDateTime, formatNumber, useIsAdmin, useQuery } from '../lib/ui.js';

export const RUN_FIELDS = `
  id status mode effectiveMode trigger queuedAt startedAt finishedAt
  pagesFetched usersSeen usersCreated usersUpdated usersRemoved skusSynced
  warnings { code message hint }
  error { code message hint }`;

const ACTIVE = ['QUEUED', 'RUNNING'];

export function isActive(run) {
  return Boolean(run && ACTIVE.includes(run.status));
}

const TONES = { SUCCEEDED: 'good', FAILED: 'bad', CANCELLED: 'warn' };
const LABELS = { QUEUED: 'Queued', RUNNING: 'Running', SUCCEEDED: 'Succeeded', FAILED: 'Failed', CANCELLED: 'Cancelled' };

export function RunStatus({ run, test }) {
  return html`<span data-test=${test}><${Badge} tone=${TONES[run.status] ?? 'neutral'}>${LABELS[run.status] ?? run.status}</${Badge}></span>`;
}

// "Full", or "Auto → delta" once the run has decided.
export function modeLabel(run) {
  const asked = run.mode.toLowerCase();
  const ran = run.effectiveMode?.toLowerCase();
  const label = !ran || ran === asked ? asked : `${asked} → ${ran}`;
  return label.charAt(0).toUpperCase() + label.slice(1);
}

// When the run last moved: finished, else started, else queued.
export function runTime(run) {
  return run.finishedAt ?? run.startedAt ?? run.queuedAt;
}

// The end of a run: its error (FAILED, CANCELLED) and its warnings, each with what to do.
export function RunOutcome({ run }) {
  if (!run || isActive(run)) return null;
  return html`
    ${run.error ? html`
      <div class=${run.status === 'CANCELLED' ? 'notice' : 'error-box'} role=${run.status === 'CANCELLED' ? undefined : 'alert'}>
        <p><strong>${run.status === 'CANCELLED' ? 'Cancelled' : 'The sync failed'}:</strong> ${run.error.message} <code class="code">${run.error.code}</code></p>
        <p class="hint">${run.error.hint}</p>
      </div>` : null}
    ${run.warnings.length ? html`
      <div class="notice">
        <p><strong>${run.warnings.length === 1 ? '1 warning' : `${run.warnings.length} warnings`}</strong></p>
        <ul class="run-warnings">
          ${run.warnings.map(warning => html`
            <li><code class="code">${warning.code}</code> ${warning.message}<br /><span class="hint">${warning.hint}</span></li>`)}
        </ul>
      </div>` : null}`;
}

const RUN_UPDATED = `subscription RunUpdated($id: ID!) { syncRunUpdated(id: $id) { ${RUN_FIELDS} } }`;
const CANCEL = `mutation CancelSync($id: ID!) { cancelSync(id: $id) { ${RUN_FIELDS} } }`;

// One run followed live until it ends; `onEnded(run)` once, when it has. `initial` (the run
// as startSync or the list gave it) shows until the first update arrives.
export function LiveRun({ runId, initial, onEnded, onDismiss }) {
  const isAdmin = useIsAdmin();
  const [run, setRun] = useState(initial?.id === runId ? initial : null);
  const [failure, setFailure] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState(null);
  const [asked, setAsked] = useState(false);
  const reported = useRef(null);
  const ended = useRef(onEnded);
  ended.current = onEnded;

  const receive = next => {
    setRun(next);
    if (!isActive(next) && reported.current !== next.id) {
      reported.current = next.id;
      ended.current?.(next);
    }
  };

  useEffect(() => {
    setFailure(null);
    return subscribe(RUN_UPDATED, { id: runId }, {
      onData: data => receive(data.syncRunUpdated),
      onError: setFailure,
    });
  }, [runId, attempt]);

  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      const next = (await graphql(CANCEL, { id: runId })).cancelSync;
      receive(next);
      setAsked(isActive(next));
    } catch (error) {
      setCancelError(error);
    } finally {
      setCancelling(false);
    }
  };

  const running = !run || isActive(run);
  const figures = [
    ['Pages fetched', 'run-pages', run?.pagesFetched],
    ['Users seen', 'run-users-seen', run?.usersSeen],
    ['Created', 'run-created', run?.usersCreated],
    ['Updated', 'run-updated', run?.usersUpdated],
    ['Removed', 'run-removed', run?.usersRemoved],
    ['SKUs', 'run-skus', run?.skusSynced],
  ];
  return html`
    <section class="live-run" aria-label="Sync progress">
      <div class="live-run-head">
        <h3>${running ? 'Sync in progress' : 'Sync finished'}</h3>
        <p role="status" aria-live="polite" class="live-run-status">
          ${run ? html`<${RunStatus} run=${run} test="run-status" />
            <span class="muted">${modeLabel(run)} · ${run.status === 'QUEUED' ? 'queued' : run.finishedAt ? 'ended' : 'started'} ${formatDateTime(runTime(run))}</span>`
            : html`<span data-test="run-status" class="muted">Connecting…</span>`}
        </p>
      </div>
      ${running ? html`<progress class="progress" aria-label="Sync running"></progress>` : null}
      <dl class="run-figures">
        ${figures.map(([label, test, value]) => html`
          <div><dt>${label}</dt><dd data-test=${test}>${formatNumber(value)}</dd></div>`)}
      </dl>
      ${running && asked
        ? html`<p class="muted">Asked to stop: a running sync notices within 15 seconds and keeps what it has written.</p>` : null}
      ${!running && asked && run?.status === 'SUCCEEDED'
        ? html`<p class="muted">The sync finished before it noticed the cancellation; what it wrote is kept.</p>` : null}
      <${ErrorBox} error=${failure} title="Live updates stopped" onRetry=${() => setAttempt(value => value + 1)} />
      <${ErrorBox} error=${cancelError} title="Could not cancel" />
      <${RunOutcome} run=${run} />
      <div class="actions">
        ${running && isAdmin ? html`
          <button type="button" class="secondary" disabled=${cancelling || !run} onClick=${cancel}>${cancelling ? 'Cancelling…' : 'Cancel sync'}</button>` : null}
        ${!running && onDismiss ? html`<button type="button" class="secondary" onClick=${onDismiss}>Dismiss</button>` : null}
      </div>
    </section>`;
}

const HISTORY = `query SyncHistory($providerId: ID!) {
  syncRuns(providerId: $providerId, first: 5) { nodes { ${RUN_FIELDS} } }
}`;

// The provider's last five runs, newest first; `refresh` changes when a run has ended.
export function SyncHistory({ providerId, refresh }) {
  const { data, error, loading, reload } = useQuery(HISTORY, { providerId }, `${providerId}:${refresh}`);
  if (error && !data) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const runs = data.syncRuns.nodes;
  if (!runs.length) return html`<p class="muted">No sync yet.</p>`;
  return html`
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">Last ${runs.length} syncs</caption>
        <thead><tr>
          <th scope="col">When</th><th scope="col">Status</th><th scope="col" class="hide-narrow">Mode</th>
          <th scope="col" class="hide-narrow">Trigger</th><th scope="col" class="number">Users seen</th>
          <th scope="col" class="number hide-narrow">Created</th><th scope="col" class="number hide-narrow">Updated</th>
          <th scope="col" class="number hide-narrow">Removed</th><th scope="col">Problem</th>
        </tr></thead>
        <tbody>
          ${runs.map(run => html`
            <tr key=${run.id} data-test="history-run" data-run-id=${run.id}>
              <td>${formatDateTime(runTime(run))}</td>
              <td><${RunStatus} run=${run} /></td>
              <td class="hide-narrow">${modeLabel(run)}</td>
              <td class="hide-narrow">${run.trigger}</td>
              <td class="number">${formatNumber(run.usersSeen)}</td>
              <td class="number hide-narrow">${formatNumber(run.usersCreated)}</td>
              <td class="number hide-narrow">${formatNumber(run.usersUpdated)}</td>
              <td class="number hide-narrow">${formatNumber(run.usersRemoved)}</td>
              <td>${run.error ? html`<code class="code" title=${run.error.message}>${run.error.code}</code>` : null}
                ${run.warnings.map(warning => html` <code class="code" title=${warning.message}>${warning.code}</code>`)}</td>
            </tr>`)}
        </tbody>
      </table>
    </div>
    ${loading ? html`<p class="muted">Refreshing…</p>` : null}`;
}
