// Users: the directory, filtered, ordered and paged, each user with their licenses (and how each
// came) and sign-in dates. Every filter lives in the query string, so a reload, the back button
// and a shared link show the same list; the CSV export carries the same filters.

import { html, useEffect, useState } from '../vendor/htm-preact.js';
import { Link, setQuery } from '../lib/router.js';
import { Empty, ErrorBox, Field, Loading, Page, formatNumber, useQuery } from '../lib/ui.js';
import { ExportButton, Pager, SearchBox, YesNoAny, booleanParam, pageVariables } from '../lib/lists.js';
import { USER_ROW, UnknownSignInNote, UsersTable } from '../lib/directory.js';

const USERS = `
query Users($filter: UserFilter, $orderBy: UserOrder, $first: Int, $after: String, $last: Int, $before: String) {
  users(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
    nodes { ...UserRow }
  }
}
${USER_ROW}`;

const CHOICES = `
query UserFilterChoices {
  providers { id name }
  licenseSkus { id skuPartNumber displayName provider { id } }
}`;

// UserFilter's fields, named in the query string as in the API and the CSV export.
const TEXT_FILTERS = ['providerId', 'search', 'skuPartNumber', 'userType'];
const BOOLEAN_FILTERS = ['accountEnabled', 'licensed', 'neverSignedIn', 'licenseInError', 'includeRemoved'];
const NUMBER_FILTERS = ['inactiveSinceDays'];
const FILTERS = [...TEXT_FILTERS, ...BOOLEAN_FILTERS, ...NUMBER_FILTERS];

const ORDERS = [
  ['DISPLAY_NAME', 'Display name'],
  ['USER_PRINCIPAL_NAME', 'User principal name'],
  ['LAST_SIGN_IN_AT', 'Last sign-in'],
  ['CREATED_AT', 'Created'],
];
const SIZES = [25, 50, 100, 200];
const INACTIVE_DAYS_MAX = 36_500;

// The filter as the API takes it; absent fields do not filter.
function filterOf(query) {
  const filter = {};
  TEXT_FILTERS.forEach(name => { if (query.get(name)) filter[name] = query.get(name); });
  BOOLEAN_FILTERS.forEach(name => { if (booleanParam(query, name) !== undefined) filter[name] = booleanParam(query, name); });
  NUMBER_FILTERS.forEach(name => {
    const value = Number.parseInt(query.get(name) ?? '', 10);
    if (Number.isFinite(value)) filter[name] = value;
  });
  return filter;
}

// Everything the query string holds besides the page: filters, order and page size.
function settingsOf(query) {
  return Object.fromEntries(
    [...FILTERS, 'orderBy', 'direction', 'size'].map(name => [name, query.get(name) ?? '']),
  );
}

export default function Users({ query }) {
  const settings = settingsOf(query);
  const filter = filterOf(query);
  const size = SIZES.includes(Number(settings.size)) ? Number(settings.size) : 50;
  const orderBy = { field: settings.orderBy || 'DISPLAY_NAME', direction: settings.direction || 'ASC' };
  const variables = { filter, orderBy, ...pageVariables(query, size) };
  const { data, error, loading, reload } = useQuery(USERS, variables);
  const choices = useQuery(CHOICES, {});

  // A changed filter or order starts again from the first page; typing replaces the history
  // entry, a choice adds one so that back undoes it.
  const change = (changes, replace = false) => setQuery({ ...settings, ...changes }, { replace });
  const go = cursor => setQuery({ ...settings, ...cursor }, { replace: false });
  const filtered = FILTERS.some(name => settings[name]);

  const users = data?.users;
  return html`
    <${Page} title="Users" actions=${html`<${ExportButton} label="Export CSV" path="/export/users.csv" params=${filter} filename="users.csv" />`}>
      <${Filters} settings=${settings} choices=${choices.data} change=${change} error=${error} />
      <div class="list-header">
        <p class="total" aria-live="polite">
          ${users ? html`<span data-test="users-total" data-value=${users.totalCount}>${formatNumber(users.totalCount)}</span>
            ${users.totalCount === 1 ? ' user' : ' users'}${filtered ? ' match' : ''}` : null}
          ${loading && users ? html` <span class="muted">· updating…</span>` : null}
        </p>
        ${filtered ? html`<button type="button" class="link" onClick=${() => setQuery({ orderBy: settings.orderBy, direction: settings.direction, size: settings.size }, { replace: false })}>Clear filters</button>` : null}
      </div>
      ${error && !isFilterError(error) ? html`<${ErrorBox} error=${error} onRetry=${staleCursor(error, query) ? null : reload}
        title=${users ? 'Could not refresh' : 'Could not load users'} />` : null}
      ${error && staleCursor(error, query) ? html`<button type="button" class="secondary" onClick=${() => go({})}>Go to the first page</button>` : null}
      ${!users
        ? (error ? null : html`<${Loading} label="Loading users…" />`)
        : users.nodes.length
          ? html`
            <${UnknownSignInNote} users=${users.nodes} />
            <${UsersTable} users=${users.nodes} caption="Directory users" userLink=${user => `/history?userId=${user.id}`}
              withProvider=${(choices.data?.providers.length ?? 0) > 1} />
            <${Pager} pageInfo=${users.pageInfo} label="Pages of users" go=${go} busy=${loading} />`
          : html`<${Empty}>${filtered
            ? 'No user matches these filters.'
            : html`No users yet: they appear after the first sync of a tenant. <${Link} to="/settings/providers">Go to Settings</${Link}>`}</${Empty}>`}
    </${Page}>`;
}

// A refusal of one filter's value is shown beside that filter, not as a page error.
function isFilterError(error) {
  return error.code === 'BAD_USER_INPUT' && FILTERS.some(name => fieldError(error, name));
}

// A cursor the API refuses (from another order, or edited by hand): only the first page helps.
function staleCursor(error, query) {
  return error.code === 'BAD_USER_INPUT' && Boolean(query.get('after') || query.get('before'));
}

function fieldError(error, name) {
  return error?.fieldMessage?.(name) ?? error?.fieldMessage?.(`filter.${name}`);
}

function Filters({ settings, choices, change, error }) {
  const providers = choices?.providers ?? [];
  const skus = skuChoices(choices?.licenseSkus ?? [], settings.providerId, settings.skuPartNumber);
  const select = name => event => change({ [name]: event.target.value });
  return html`
    <form class="filters users-filters" role="search" aria-label="Filter users" onSubmit=${event => event.preventDefault()}>
      <${SearchBox} id="user-search" label="Search" value=${settings.search}
        placeholder="Name, user principal name or mail" onSearch=${text => change({ search: text }, true)} />
      ${providers.length > 1 ? html`
        <div class="field">
          <label for="filter-provider">Provider</label>
          <select id="filter-provider" value=${settings.providerId} onChange=${select('providerId')}>
            <option value="">All providers</option>
            ${providers.map(provider => html`<option value=${provider.id}>${provider.name}</option>`)}
          </select>
        </div>` : null}
      <div class="field">
        <label for="filter-sku">License</label>
        <select id="filter-sku" value=${settings.skuPartNumber} onChange=${select('skuPartNumber')}>
          <option value="">Any license</option>
          ${skus.map(sku => html`<option value=${sku.skuPartNumber}>${sku.displayName}</option>`)}
        </select>
      </div>
      <${YesNoAny} id="filter-licensed" label="Licensed" value=${settings.licensed} onChange=${value => change({ licensed: value })}
        yes="Yes" no="No" />
      <${YesNoAny} id="filter-enabled" label="Account" value=${settings.accountEnabled} onChange=${value => change({ accountEnabled: value })}
        yes="Enabled" no="Disabled" />
      <div class="field">
        <label for="filter-type">User type</label>
        <select id="filter-type" value=${settings.userType} onChange=${select('userType')}>
          <option value="">Any</option>
          <option value="Member">Members</option>
          <option value="Guest">Guests</option>
        </select>
      </div>
      <${InactiveDays} value=${settings.inactiveSinceDays} serverError=${fieldError(error, 'inactiveSinceDays')}
        onChange=${value => change({ inactiveSinceDays: value })} />
      <${YesNoAny} id="filter-never" label="Never signed in" value=${settings.neverSignedIn} onChange=${value => change({ neverSignedIn: value })}
        yes="Yes" no="No, signed in" />
      <${YesNoAny} id="filter-error" label="License in error" value=${settings.licenseInError} onChange=${value => change({ licenseInError: value })}
        yes="Yes" no="No" />
      <div class="field">
        <label for="filter-order">Order by</label>
        <select id="filter-order" value=${settings.orderBy || 'DISPLAY_NAME'} onChange=${select('orderBy')}>
          ${ORDERS.map(([field, label]) => html`<option value=${field}>${label}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="filter-direction">Direction</label>
        <select id="filter-direction" value=${settings.direction || 'ASC'} onChange=${select('direction')}>
          <option value="ASC">Ascending</option>
          <option value="DESC">Descending</option>
        </select>
      </div>
      <div class="field">
        <label for="filter-size">Per page</label>
        <select id="filter-size" value=${settings.size || '50'} onChange=${select('size')}>
          ${SIZES.map(size => html`<option value=${String(size)}>${size}</option>`)}
        </select>
      </div>
      <label class="check">
        <input type="checkbox" checked=${settings.includeRemoved === 'true'}
          onChange=${event => change({ includeRemoved: event.target.checked ? 'true' : '' })} />
        Include removed users
      </label>
    </form>`;
}

// The SKUs to pick from: one entry per part number (several tenants may have the same), those
// of the chosen provider only, and the current choice even when it is not among them.
function skuChoices(skus, providerId, current) {
  const byPartNumber = new Map();
  skus.filter(sku => !providerId || sku.provider.id === providerId)
    .forEach(sku => byPartNumber.set(sku.skuPartNumber, sku));
  if (current && !byPartNumber.has(current)) byPartNumber.set(current, { skuPartNumber: current, displayName: current });
  return [...byPartNumber.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
}

// Days without sign-in: applied when the field is left or Enter is pressed, checked first so that
// a typo stays in the field with its message instead of emptying the list.
function InactiveDays({ value, serverError, onChange }) {
  const [text, setText] = useState(value);
  const [problem, setProblem] = useState(null);
  useEffect(() => { setText(value); setProblem(null); }, [value]);
  const commit = event => {
    const typed = event.target.value.trim();
    if (typed === value) return;
    const days = Number(typed);
    if (typed && !(Number.isInteger(days) && days >= 1 && days <= INACTIVE_DAYS_MAX)) {
      setProblem(`A whole number of days from 1 to ${formatNumber(INACTIVE_DAYS_MAX)}.`);
      return;
    }
    setProblem(null);
    onChange(typed);
  };
  return html`
    <${Field} id="filter-inactive" label="Inactive for days" error=${problem ?? serverError}>
      ${attributes => html`<input ...${attributes} type="number" min="1" max=${INACTIVE_DAYS_MAX} step="1" inputmode="numeric"
        placeholder="e.g. 90" value=${text} onInput=${event => setText(event.target.value)} onChange=${commit}
        onKeyDown=${event => event.key === 'Enter' && commit(event)} />`}
    </${Field}>`;
}
