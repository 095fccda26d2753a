// History: the change log — what changed of users and their licenses, when a sync saw it (or
// reclaim made it) — newest first, a page at a time, filtered by kind, by one user (from the
// Users page) and by dates on the server; the filters live in the query string.

import { html } from '../vendor/htm-preact.js';
import { LoadMore, usePages } from '../lib/paging.js';
import { ExportButton } from '../lib/lists.js';
import { Link, setQuery } from '../lib/router.js';
import { Badge, Empty, ErrorBox, Field, Loading, Page, formatDateTime } from '../lib/ui.js';

const PAGE = 50;

const EVENTS = `query LicenseEvents($filter: LicenseEventFilter, $first: Int, $after: String) {
  licenseEvents(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id kind observedAt userId userPrincipalName skuId skuDisplayName syncRunId reclaimPlanId before after }
  }
}`;

// Each kind in words, and how it reads at a glance.
const KINDS = {
  LICENSE_ADDED: ['license added', 'good'],
  LICENSE_REMOVED: ['license removed', 'warn'],
  DISABLED_PLANS_CHANGED: ['services changed', 'neutral'],
  SOURCE_CHANGED: ['assigned differently', 'neutral'],
  STATE_CHANGED: ['state changed', 'neutral'],
  USER_CREATED: ['user created', 'good'],
  USER_DISABLED: ['account disabled', 'warn'],
  USER_ENABLED: ['account enabled', 'good'],
  USER_REMOVED: ['user removed', 'bad'],
  USER_RESTORED: ['user restored', 'good'],
};

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function filterOf(query) {
  const kind = query.get('kind');
  const day = name => (DAY.test(query.get(name) ?? '') ? query.get(name) : null);
  return {
    kind: KINDS[kind] ? kind : null,
    userId: /^\d+$/.test(query.get('userId') ?? '') ? query.get('userId') : null,
    from: day('from'),
    to: day('to'),
  };
}

// The API's filter: whole days, `to` included.
function apiFilter(filter) {
  const next = day => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
  return {
    kinds: filter.kind ? [filter.kind] : null,
    userId: filter.userId,
    from: filter.from ? `${filter.from}T00:00:00Z` : null,
    to: filter.to ? next(filter.to) : null,
  };
}

export default function History({ query }) {
  const filter = filterOf(query);
  const api = apiFilter(filter);
  const exported = Object.fromEntries(Object.entries({ ...api, kinds: api.kinds?.join(',') }).filter(([, value]) => value));
  return html`
    <${Page} title="History"
      actions=${html`<${ExportButton} label="Export CSV" path="/export/license-events.csv" params=${exported} filename="license-events.csv" />`}>
      <${Filters} filter=${filter} onChange=${values => setQuery({ ...filter, ...values })} />
      <${Events} filter=${filter} api=${api} />
    </${Page}>`;
}

function Filters({ filter, onChange }) {
  const filtered = filter.kind || filter.userId || filter.from || filter.to;
  return html`
    <form class="filters history-filters" aria-label="Filter the history" onSubmit=${event => event.preventDefault()}>
      <${Field} id="history-kind" label="What changed">
        ${attributes => html`
          <select ...${attributes} value=${filter.kind ?? ''} onChange=${event => onChange({ kind: event.target.value || null })}>
            <option value="">Any change</option>
            ${Object.entries(KINDS).map(([kind, [label]]) => html`<option value=${kind}>${label}</option>`)}
          </select>`}
      </${Field}>
      <${Field} id="history-from" label="From">
        ${attributes => html`<input ...${attributes} type="date" value=${filter.from ?? ''} onChange=${event => onChange({ from: event.target.value || null })} />`}
      </${Field}>
      <${Field} id="history-to" label="To">
        ${attributes => html`<input ...${attributes} type="date" value=${filter.to ?? ''} onChange=${event => onChange({ to: event.target.value || null })} />`}
      </${Field}>
      ${filtered ? html`
        <div class="field filter-buttons">
          <button type="button" class="link" onClick=${() => onChange({ kind: null, userId: null, from: null, to: null })}>Clear filters</button>
        </div>` : null}
    </form>`;
}

function Events({ filter, api }) {
  const pages = usePages(EVENTS, { filter: api, first: PAGE }, data => data.licenseEvents);
  if (pages.loading) return html`<${Loading} label="Loading the history…" />`;
  if (pages.error && !pages.loaded) return html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />`;
  const user = filter.userId ? pages.nodes[0]?.userPrincipalName : null;
  if (pages.nodes.length === 0) {
    return filter.kind || filter.userId || filter.from || filter.to
      ? html`<${Empty}><strong>No change matches these filters.</strong></${Empty}>`
      : html`<${Empty}><strong>No changes yet.</strong> The first full sync of a tenant is where its history starts; every later sync records what changed.</${Empty}>`;
  }
  return html`
    <p class="muted">${user
      ? html`What changed of <strong>${user}</strong> and their licenses, newest first.`
      : 'What changed of users and their licenses, newest first, as syncs saw it — or as reclaim made it.'}</p>
    <div class="table-wrap">
      <table class="history">
        <caption class="visually-hidden">Changes of users and licenses</caption>
        <thead>
          <tr>
            <th scope="col">Seen</th>
            <th scope="col">User</th>
            <th scope="col">What changed</th>
            <th scope="col">License</th>
            <th scope="col">Before → after</th>
            <th scope="col" class="hide-narrow">By</th>
          </tr>
        </thead>
        <tbody>${pages.nodes.map(event => html`<${EventRow} key=${event.id} event=${event} />`)}</tbody>
      </table>
    </div>
    <${LoadMore} pages=${pages} noun="changes" />`;
}

function EventRow({ event }) {
  const [label, tone] = KINDS[event.kind] ?? [event.kind, 'neutral'];
  return html`
    <tr data-test="license-event" data-kind=${event.kind}>
      <td class="when"><time datetime=${event.observedAt}>${formatDateTime(event.observedAt)}</time></td>
      <td><${Link} to=${`/history?userId=${event.userId}`}>${event.userPrincipalName ?? `user ${event.userId}`}</${Link}></td>
      <td><${Badge} tone=${tone}>${label}</${Badge}></td>
      <td>${event.skuId ? html`<${Link} to=${`/licenses/${event.skuId}`}>${event.skuDisplayName ?? event.skuId}</${Link}>` : '—'}</td>
      <td class="detail">${change(event)}</td>
      <td class="hide-narrow">${event.reclaimPlanId
        ? html`<${Link} to=${`/reclaim/${event.reclaimPlanId}`}>reclaim plan ${event.reclaimPlanId}</${Link}>`
        : event.syncRunId ? html`<span class="muted">sync ${event.syncRunId}</span>` : null}</td>
    </tr>`;
}

// The fields of an event's before and after, in words.
const FIELDS = {
  accountEnabled: 'can sign in',
  direct: 'assigned directly',
  groups: 'through groups',
  disabledPlans: 'services off',
  state: 'state',
  error: 'error',
};

// The fields that differ, each as "name: before → after"; one side only for an addition or a
// removal.
function change(event) {
  const before = event.before ?? {};
  const after = event.after ?? {};
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const shown = value => {
    if (Array.isArray(value)) return value.length ? value.join(', ') : 'none';
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    return value === null || value === undefined ? '—' : String(value);
  };
  const lines = names
    .filter(name => JSON.stringify(before[name]) !== JSON.stringify(after[name]) || !event.before || !event.after)
    .map(name => html`<div><span class="muted">${FIELDS[name] ?? name}:</span> ${event.before ? shown(before[name]) : ''}${event.before && event.after ? ' → ' : ''}${event.after ? shown(after[name]) : ''}</div>`);
  return lines.length ? lines : html`<span class="muted">—</span>`;
}
