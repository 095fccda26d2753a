// One SKU: its seats, price and subscriptions, and the users who hold it, a page at a time,
// with a CSV of those holders.

import { html, useState } from '../vendor/htm-preact.js';
import { Link, setQuery } from '../lib/router.js';
import { Empty, ErrorBox, Loading, Page, formatDate, formatDateTime, formatMoney, formatNumber, useIsAdmin, useQuery } from '../lib/ui.js';
import { DateWithAge, ExportButton, Pager, SearchBox, pageVariables } from '../lib/lists.js';
import { USER_ROW, UnknownSignInNote, UsersTable } from '../lib/directory.js';
import { SeatTrend } from '../lib/trend.js';
import { Available, PriceEditor, PriceSummary, SKU_FIELDS, SeatMeter, SkuTroubles, lifecycle } from '../lib/licenses.js';

const PAGE_SIZE = 50;

const SKU = `
query Sku($id: ID!, $filter: UserFilter, $first: Int, $after: String, $last: Int, $before: String) {
  providers { id }
  licenseSku(id: $id) {
    ...SkuFields
    holders(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
      nodes { ...UserRow }
    }
  }
}
${SKU_FIELDS}
${USER_ROW}`;

export default function Sku({ params, query }) {
  const search = query.get('search') ?? '';
  const includeRemoved = query.get('includeRemoved') === 'true';
  const filter = { search: search || undefined, includeRemoved };
  const variables = { id: params.id, filter, ...pageVariables(query, PAGE_SIZE) };
  const { data, error, loading, reload } = useQuery(SKU, variables);
  const sku = data?.licenseSku;
  // Filters start the holders over from their first page.
  const filterBy = changes => setQuery({ search, includeRemoved: includeRemoved ? 'true' : '', ...changes });

  if (!data) {
    // An id this API never gave out is a page that does not exist, like an id that is gone.
    if (error?.code === 'BAD_USER_INPUT' && error.fieldMessage('id')) return html`<${Missing} />`;
    return html`<${Page} title="License">${error
      ? html`<${ErrorBox} error=${error} onRetry=${reload} />`
      : html`<${Loading} label="Loading the license…" />`}</${Page}>`;
  }
  if (!sku) return html`<${Missing} />`;

  const usersLink = `/users?${new URLSearchParams({ providerId: sku.provider.id, skuPartNumber: sku.skuPartNumber })}`;
  const holders = sku.holders;
  return html`
    <${Page} title=${sku.displayName} actions=${html`
      <${ExportButton} label="Export holders (CSV)" path="/export/users.csv" filename=${`${sku.skuPartNumber.toLowerCase()}-holders.csv`}
        params=${exportParams(sku, filter)} />
      <${Link} to=${usersLink} class="button secondary">Show holders in Users</${Link}>`}>
      <p class="breadcrumb"><${Link} to="/licenses">Licenses</${Link}> / <span class="mono">${sku.skuPartNumber}</span></p>
      ${error ? html`<${ErrorBox} error=${error} onRetry=${reload} title="Could not refresh" />` : null}
      <${Figures} sku=${sku} />
      <div class="sku-details">
        <${Facts} sku=${sku} several=${data.providers.length > 1} onSaved=${reload} />
        <${SubscriptionTable} subscriptions=${sku.subscriptions} />
      </div>
      <${SeatTrend} skuId=${sku.id} />

      <section aria-labelledby="holders-heading">
        <h2 id="holders-heading">Holders <span class="muted">(<span data-test="holders-total" data-value=${holders.totalCount}>${formatNumber(holders.totalCount)}</span>)</span></h2>
        <div class="filters">
          <${SearchBox} id="holder-search" label="Search holders" value=${search}
            placeholder="Name, user principal name or mail" onSearch=${text => filterBy({ search: text })} />
          <label class="check">
            <input type="checkbox" checked=${includeRemoved}
              onChange=${event => filterBy({ includeRemoved: event.target.checked ? 'true' : '' })} />
            Include removed users
          </label>
        </div>
        ${holders.nodes.length
          ? html`
            <${UnknownSignInNote} users=${holders.nodes} />
            <${UsersTable} users=${holders.nodes} only=${sku.id} caption=${`Holders of ${sku.displayName}`}
              userLink=${user => `/users?${new URLSearchParams({ providerId: user.provider.id, search: user.userPrincipalName, ...(user.removedAt ? { includeRemoved: 'true' } : {}) })}`} />
            <${Pager} pageInfo=${holders.pageInfo} label="Pages of holders" busy=${loading}
              go=${cursor => setQuery({ search, includeRemoved: includeRemoved ? 'true' : '', ...cursor }, { replace: false })} />`
          : html`<${Empty}>${search ? `Nobody holding this license matches “${search}”.` : 'Nobody holds this license.'}</${Empty}>`}
      </section>
    </${Page}>`;
}

function Missing() {
  return html`<${Page} title="License not found">
    <${Empty}><p>There is no license SKU with this id; it may have been removed by a sync or with its provider.</p>
      <p><${Link} to="/licenses">Back to Licenses</${Link}></p></${Empty}>
  </${Page}>`;
}

function Figures({ sku }) {
  return html`
    <div class="cards sku-figures">
      <div class="card"><div class="muted">Paid seats</div>
        <div class="figure" data-test="sku-enabled" data-value=${sku.enabledUnits}>${formatNumber(sku.enabledUnits)}</div></div>
      <div class="card"><div class="muted">Assigned</div>
        <div class="figure" data-test="sku-consumed" data-value=${sku.consumedUnits}>${formatNumber(sku.consumedUnits)}</div>
        <${SeatMeter} sku=${sku} /></div>
      <div class="card"><div class="muted">Available</div>
        <div class="figure"><${Available} sku=${sku} /></div></div>
      <div class="card"><div class="muted">Monthly cost of the paid seats</div>
        <div class="figure">${sku.monthlyCost ? formatMoney(sku.monthlyCost) : '—'}</div>
        ${sku.monthlyCost ? null : html`<div class="muted">No price set</div>`}</div>
    </div>`;
}

function Facts({ sku, several, onSaved }) {
  const isAdmin = useIsAdmin();
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState(null);
  return html`
    <section class="panel" aria-labelledby="facts-heading">
      <h2 id="facts-heading">Facts</h2>
      <dl class="facts">
        <dt>Part number</dt><dd class="mono">${sku.skuPartNumber}</dd>
        <dt>SKU id</dt><dd class="mono break">${sku.skuId}</dd>
        ${several ? html`<dt>Provider</dt><dd>${sku.provider.name}</dd>` : null}
        <dt>Status</dt><dd>${sku.capabilityStatus}${' '}<${SkuTroubles} sku=${sku} withStatus=${false} /></dd>
        ${sku.appliesTo ? html`<dt>Applies to</dt><dd>${sku.appliesTo}</dd>` : null}
        <dt>Last synced</dt><dd>${formatDateTime(sku.lastSyncedAt)}</dd>
        <dt>Price</dt>
        <dd>
          <${PriceSummary} sku=${sku} />
          ${saved ? html`<p class="saved" role="status">Price ${saved}.</p>` : null}
          ${isAdmin && !editing ? html`<button type="button" class="link" onClick=${() => { setSaved(null); setEditing(true); }}>
            ${sku.price ? 'Change price' : 'Set price'}</button>` : null}
        </dd>
      </dl>
      ${editing ? html`<${PriceEditor} sku=${sku} defaultCurrency=${sku.price?.currency}
        onCancel=${() => setEditing(false)}
        onSaved=${(_, what) => { setEditing(false); setSaved(what); onSaved(); }} />` : null}
    </section>`;
}

function SubscriptionTable({ subscriptions }) {
  return html`
    <section class="panel" aria-labelledby="subscriptions-heading">
      <h2 id="subscriptions-heading">Subscriptions</h2>
      ${subscriptions.length ? html`
        <div class="table-wrap">
          <table>
            <thead><tr>
              <th scope="col">Status</th><th scope="col" class="number">Licenses</th>
              <th scope="col">Next lifecycle date</th><th scope="col" class="hide-narrow">Created</th>
            </tr></thead>
            <tbody>${subscriptions.map(subscription => html`
              <tr>
                <td>${subscription.status}${subscription.isTrial ? html` <span class="badge warn">Trial</span>` : null}</td>
                <td class="number">${formatNumber(subscription.totalLicenses)}</td>
                <td>${subscription.nextLifecycleAt
                  ? html`<time datetime=${subscription.nextLifecycleAt}>${formatDate(subscription.nextLifecycleAt)}</time> <span class="muted">(${lifecycle(subscription)})</span>`
                  : '—'}</td>
                <td class="hide-narrow"><${DateWithAge} iso=${subscription.createdAt} /></td>
              </tr>`)}</tbody>
          </table>
        </div>` : html`<p class="muted">No commerce subscription is behind this SKU.</p>`}
    </section>`;
}

// The holders as filtered here, as the export names them: the SKU's GUID with its provider
// names this SKU alone.
function exportParams(sku, filter) {
  return { ...filter, providerId: sku.provider.id, skuId: sku.skuId };
}
