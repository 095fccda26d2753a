// Licenses: every SKU with its seats paid for, used and free, the subscriptions behind it, and
// its unit price with the monthly cost of its seats; admins set prices here.

import { html, useState } from '../vendor/htm-preact.js';
import { Link } from '../lib/router.js';
import { Empty, ErrorBox, Loading, Page, formatNumber, useIsAdmin, useQuery } from '../lib/ui.js';
import { Available, PriceEditor, PriceSummary, SKU_FIELDS, SeatMeter, SkuTroubles, Subscriptions } from '../lib/licenses.js';

const LICENSES = `
query Licenses {
  providers { id name }
  licenseSkus { ...SkuFields }
}
${SKU_FIELDS}`;

// Columns of the table, for the editor's row to span them.
const COLUMNS = 7;

export default function Licenses() {
  const { data, error, loading, reload } = useQuery(LICENSES, {});
  const isAdmin = useIsAdmin();
  const [editing, setEditing] = useState(null);
  const [saved, setSaved] = useState(null);

  let body;
  if (!data) {
    body = error ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : html`<${Loading} label="Loading licenses…" />`;
  } else if (!data.providers.length) {
    body = html`<${Empty}>
      <p>No Microsoft 365 tenant is connected yet, so there are no licenses to show.</p>
      <p><${Link} to="/settings/providers">Connect a tenant in Settings</${Link}></p>
    </${Empty}>`;
  } else if (!data.licenseSkus.length) {
    body = html`<${Empty}>
      <p>No licenses synced yet. They appear after the first sync of a tenant.</p>
      <p><${Link} to="/settings/providers">Start a sync in Settings</${Link}></p>
    </${Empty}>`;
  } else {
    const onSaved = (sku, what) => {
      setEditing(null);
      setSaved({ id: sku.id, what });
      reload();
    };
    body = html`
      ${error ? html`<${ErrorBox} error=${error} onRetry=${reload} title="Could not refresh" />` : null}
      <${SkuTable} skus=${data.licenseSkus} several=${data.providers.length > 1} isAdmin=${isAdmin}
        editing=${editing} saved=${saved}
        onEdit=${id => { setSaved(null); setEditing(id); }} onCancel=${() => setEditing(null)} onSaved=${onSaved} />`;
  }
  return html`<${Page} title="Licenses">${body}</${Page}>`;
}

// The currency most prices use: a new price starts with it.
function usualCurrency(skus) {
  const counts = new Map();
  skus.forEach(sku => sku.price && counts.set(sku.price.currency, (counts.get(sku.price.currency) ?? 0) + 1));
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

function SkuTable({ skus, several, isAdmin, editing, saved, onEdit, onCancel, onSaved }) {
  const currency = usualCurrency(skus);
  return html`
    <div class="table-wrap">
      <table class="skus">
        <caption class="visually-hidden">License SKUs with their seats, subscriptions and prices</caption>
        <thead>
          <tr>
            <th scope="col">License</th>
            <th scope="col" class="number">Paid seats</th>
            <th scope="col" class="number">Assigned</th>
            <th scope="col" class="number">Available</th>
            <th scope="col">Utilization</th>
            <th scope="col" class="hide-narrow">Subscriptions</th>
            <th scope="col">Price</th>
          </tr>
        </thead>
        <tbody>
          ${skus.map(sku => html`
            <tr data-test="sku" data-sku-part-number=${sku.skuPartNumber} class=${sku.availableUnits < 0 ? 'over' : undefined}>
              <th scope="row">
                <${Link} to=${`/licenses/${sku.id}`}>${sku.displayName}</${Link}>
                <div class="muted mono">${sku.skuPartNumber}</div>
                ${several ? html`<div class="muted">${sku.provider.name}</div>` : null}
                <div class="troubles"><${SkuTroubles} sku=${sku} /></div>
              </th>
              <td class="number" data-label="Paid seats"><span data-test="sku-enabled" data-value=${sku.enabledUnits}>${formatNumber(sku.enabledUnits)}</span></td>
              <td class="number" data-label="Assigned"><span data-test="sku-consumed" data-value=${sku.consumedUnits}>${formatNumber(sku.consumedUnits)}</span></td>
              <td class="number" data-label="Available"><${Available} sku=${sku} /></td>
              <td class="wide"><${SeatMeter} sku=${sku} /></td>
              <td class="hide-narrow"><${Subscriptions} subscriptions=${sku.subscriptions} /></td>
              <td class="wide price">
                <${PriceSummary} sku=${sku} />
                ${saved?.id === sku.id ? html`<p class="saved" role="status">Price ${saved.what}.</p>` : null}
                ${isAdmin && editing !== sku.id ? html`
                  <button type="button" class="link" onClick=${() => onEdit(sku.id)}
                    aria-label=${`${sku.price ? 'Change' : 'Set'} price of ${sku.displayName}`}>${sku.price ? 'Change price' : 'Set price'}</button>` : null}
              </td>
            </tr>
            ${editing === sku.id ? html`
              <tr class="editor-row">
                <td colspan=${COLUMNS}>
                  <${PriceEditor} sku=${sku} defaultCurrency=${currency} onSaved=${onSaved} onCancel=${onCancel} />
                </td>
              </tr>` : null}`)}
        </tbody>
      </table>
    </div>`;
}
