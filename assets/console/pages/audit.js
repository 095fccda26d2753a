// The audit log (admins only): every change made through the API, newest first, with who made
// it, its outcome and its detail, a page at a time, filtered by action, outcome and subject on
// the server (the filters live in the query string).

import { html, useState } from '../vendor/htm-preact.js';
import { LoadMore, usePages } from '../lib/paging.js';
import { setQuery } from '../lib/router.js';
import { Badge, Empty, ErrorBox, Field, Loading, Page, formatDateTime, useIsAdmin, useViewer } from '../lib/ui.js';

const PAGE = 50;

const EVENTS = `query AuditEvents($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id subject role action targetType targetId outcome detail createdAt }
  }
}`;

const OUTCOME_TONES = { SUCCEEDED: 'good', FAILED: 'bad', FORBIDDEN: 'warn' };
const OUTCOMES = ['SUCCEEDED', 'FAILED', 'FORBIDDEN'];

// The actions the API records (docs/license-api.md#the-audit-log).
const ACTIONS = [
  'provider.create', 'provider.update', 'provider.delete', 'provider.test_connection',
  'sync.start', 'sync.cancel', 'sku.price.set', 'api_token.create', 'api_token.revoke',
];

function filterOf(query) {
  const outcome = query.get('outcome');
  return {
    action: query.get('action') || null,
    outcome: OUTCOMES.includes(outcome) ? outcome : null,
    subject: query.get('subject') || null,
  };
}

export default function Audit({ query }) {
  const admin = useIsAdmin();
  const filter = filterOf(query);
  return html`
    <${Page} title="Audit log">
      ${admin ? html`
        <${Filters} key=${filter.subject ?? ''} filter=${filter} onChange=${values => setQuery({ ...filter, ...values })} />
        <${Events} filter=${filter} />` : html`<${AdminsOnly} />`}
    </${Page}>`;
}

// Action and outcome apply when chosen; the subject when submitted, not per keystroke.
function Filters({ filter, onChange }) {
  const [subject, setSubject] = useState(filter.subject ?? '');
  // Read from the form: a submit right after the last keystroke may come before the render.
  const submit = event => {
    event.preventDefault();
    onChange({ subject: String(new FormData(event.currentTarget).get('subject') ?? '').trim() || null });
  };
  const filtered = filter.action || filter.outcome || filter.subject;
  return html`
    <form class="filters audit-filters" onSubmit=${submit} aria-label="Filter the audit log">
      <${Field} id="audit-action" label="Action">
        ${attributes => html`
          <select ...${attributes} value=${filter.action ?? ''} onChange=${event => onChange({ action: event.target.value || null })}>
            <option value="">Any action</option>
            ${[...new Set([...ACTIONS, ...(filter.action ? [filter.action] : [])])].map(action => html`<option value=${action}>${action}</option>`)}
          </select>`}
      </${Field}>
      <${Field} id="audit-outcome" label="Outcome">
        ${attributes => html`
          <select ...${attributes} value=${filter.outcome ?? ''} onChange=${event => onChange({ outcome: event.target.value || null })}>
            <option value="">Any outcome</option>
            ${OUTCOMES.map(outcome => html`<option value=${outcome}>${outcome.toLowerCase()}</option>`)}
          </select>`}
      </${Field}>
      <${Field} id="audit-subject" label="Who (token subject)">
        ${attributes => html`
          <input ...${attributes} name="subject" type="search" maxlength="256" autocomplete="off" value=${subject}
            onInput=${event => setSubject(event.target.value)} />`}
      </${Field}>
      <div class="field filter-buttons">
        <button type="submit" class="secondary">Apply</button>
        ${filtered ? html`<button type="button" class="link" onClick=${() => onChange({ action: null, outcome: null, subject: null })}>Clear filters</button>` : null}
      </div>
    </form>`;
}

// A viewer who follows a link here: what the page is, and why it stays closed.
function AdminsOnly() {
  const viewer = useViewer();
  return html`
    <div class="notice" role="note" data-test="admins-only">
      <p><strong>The audit log is for admins only.</strong></p>
      <p>You are signed in as <strong>${viewer?.subject}</strong> with the viewer role. Ask an admin to look up a change for you, or for an admin sign-in link.</p>
    </div>`;
}

function Events({ filter }) {
  const pages = usePages(EVENTS, { filter, first: PAGE }, data => data.auditEvents);
  if (pages.loading) return html`<${Loading} label="Loading the audit log…" />`;
  if (pages.error && !pages.loaded) return html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />`;
  if (pages.nodes.length === 0) {
    return filter.action || filter.outcome || filter.subject
      ? html`<${Empty}><strong>No audit events match these filters.</strong></${Empty}>`
      : html`<${Empty}><strong>No audit events yet.</strong> Changes made through the API — providers, prices, syncs — will be listed here.</${Empty}>`;
  }
  return html`
    <p class="muted">Every change made through the API, newest first, whether it succeeded, failed or was refused for the caller's role.</p>
    <div class="table-wrap">
      <table class="audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col" class="hide-narrow">Target</th>
            <th scope="col">Outcome</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>${pages.nodes.map(event => html`<${EventRow} key=${event.id} event=${event} />`)}</tbody>
      </table>
    </div>
    <${LoadMore} pages=${pages} noun="events" />`;
}

function EventRow({ event }) {
  const target = event.targetId ? `${event.targetType} ${event.targetId}` : event.targetType;
  return html`
    <tr data-test="audit-event" data-action=${event.action} data-outcome=${event.outcome}>
      <td class="when"><time datetime=${event.createdAt}>${formatDateTime(event.createdAt)}</time></td>
      <td>
        <span class="subject">${event.subject}</span>
        <div class="muted small">${event.role.toLowerCase()}</div>
      </td>
      <td>
        <code>${event.action}</code>
        <div class="muted small show-narrow">${target}</div>
      </td>
      <td class="hide-narrow">${target}</td>
      <td><${Badge} tone=${OUTCOME_TONES[event.outcome] ?? 'neutral'}>${event.outcome}</${Badge}></td>
      <td class="detail"><${Detail} detail=${event.detail} /></td>
    </tr>`;
}

// The detail object as a list of its fields, folded away until asked for; nested values as
// indented JSON.
function Detail({ detail }) {
  if (detail === null || detail === undefined) return html`<span class="muted">—</span>`;
  const plain = typeof detail === 'object' && !Array.isArray(detail);
  const entries = plain ? Object.entries(detail) : [];
  const summary = plain ? `${entries.length} field${entries.length === 1 ? '' : 's'}` : 'Show';
  return html`
    <details class="audit-detail">
      <summary>${summary}</summary>
      ${plain
        ? html`<dl class="facts">${entries.map(([name, value]) => html`<dt>${name}</dt><dd><${Value} value=${value} /></dd>`)}</dl>`
        : html`<pre>${JSON.stringify(detail, null, 2)}</pre>`}
    </details>`;
}

function Value({ value }) {
  if (value === null) return html`<span class="muted">null</span>`;
  if (typeof value === 'object') return html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
  return html`<span class="value">${String(value)}</span>`;
}
