// What the licenses page and a SKU's page share: the SKU's fields, its seat figures and
// utilization bar, its subscriptions, and its unit price with the admin's editor.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { graphql } from './api.js';
import { Badge, ErrorBox, Field, daysUntil, formatMoney, formatNumber } from './ui.js';
import { relativeDays } from './lists.js';

export const SKU_FIELDS = `
fragment SkuFields on LicenseSku {
  id skuId skuPartNumber displayName capabilityStatus appliesTo subscribed
  enabledUnits consumedUnits availableUnits suspendedUnits warningUnits lockedOutUnits
  price { amount currency period monthlyAmount }
  monthlyCost { amount currency }
  lastSyncedAt
  provider { id name }
  subscriptions { id commerceSubscriptionId status totalLicenses isTrial createdAt nextLifecycleAt }
}`;

// Share of the enabled seats that are assigned, in whole per cent; null without seats.
function utilization(sku) {
  if (sku.enabledUnits <= 0) return sku.consumedUnits > 0 ? Infinity : null;
  return Math.round((sku.consumedUnits / sku.enabledUnits) * 100);
}

// The bar's width comes from a class per 5 % (fill-0 … fill-100): the CSP allows no inline style.
export function SeatMeter({ sku }) {
  const percent = utilization(sku);
  if (percent === null) return html`<span class="muted">No seats</span>`;
  const over = sku.availableUnits < 0;
  const tone = over ? ' over' : percent >= 100 ? ' full' : '';
  const fill = Math.min(100, Math.round(percent / 5) * 5);
  return html`
    <div class="seat-meter">
      <div class=${`meter${tone}`} aria-hidden="true"><span class=${`fill-${fill}`}></span></div>
      <span class="percent">${Number.isFinite(percent) ? `${percent} % used` : 'all over-assigned'}</span>
    </div>`;
}

// Available seats; negative is over-assignment, shown as such.
export function Available({ sku }) {
  const available = sku.availableUnits;
  return html`<span data-test="sku-available" data-value=${available}
    class=${available < 0 ? 'over-assigned' : undefined}>${available < 0
      ? `${formatNumber(-available)} over-assigned`
      : formatNumber(available)}</span>`;
}

// Suspended, warning and locked-out seats and a capability other than Enabled, when there are.
export function SkuTroubles({ sku, withStatus = true }) {
  const troubles = [
    [sku.suspendedUnits, 'suspended', 'bad'],
    [sku.warningUnits, 'in grace period (warning)', 'warn'],
    [sku.lockedOutUnits, 'locked out', 'bad'],
  ].filter(([units]) => units > 0);
  return html`
    ${withStatus && sku.capabilityStatus !== 'Enabled'
      ? html`<${Badge} tone=${sku.capabilityStatus === 'Warning' ? 'warn' : 'bad'}>${sku.capabilityStatus}</${Badge}> ` : null}
    ${!sku.subscribed ? html`<${Badge}>Not subscribed</${Badge}> ` : null}
    ${troubles.map(([units, label, tone]) => html`<${Badge} tone=${tone}>${formatNumber(units)} ${label}</${Badge}> `)}`;
}

// What happens at a subscription's next lifecycle date, in words, e.g. "renews in 12 days".
export function lifecycle(subscription) {
  if (!subscription.nextLifecycleAt) return null;
  const when = relativeDays(subscription.nextLifecycleAt);
  const past = daysUntil(subscription.nextLifecycleAt) < 0;
  if (subscription.isTrial) return past ? `trial ended ${when}` : `trial ends ${when}`;
  switch (subscription.status) {
    case 'Enabled': return past ? `renewal was due ${when}` : `renews ${when}`;
    case 'Warning': return past ? `grace period ended ${when}` : `grace period ends ${when}`;
    case 'Suspended': return past ? `due for deletion ${when}` : `deleted ${when}`;
    default: return past ? `changed ${when}` : `next change ${when}`;
  }
}

const STATUS_TONES = { Enabled: 'good', Warning: 'warn', Suspended: 'bad', LockedOut: 'bad', Deleted: 'bad' };

export function Subscriptions({ subscriptions }) {
  if (!subscriptions.length) return html`<span class="muted">None</span>`;
  return html`
    <ul class="subscriptions">
      ${subscriptions.map(subscription => {
        const next = lifecycle(subscription);
        // Within a month either way: worth a look before it renews or lapses.
        const soon = subscription.nextLifecycleAt && Math.abs(daysUntil(subscription.nextLifecycleAt)) <= 30;
        return html`
          <li>
            <${Badge} tone=${STATUS_TONES[subscription.status] ?? 'neutral'}>${subscription.status}</${Badge}>
            ${subscription.isTrial ? html` <${Badge} tone="warn">Trial</${Badge}>` : null}
            ${' '}${formatNumber(subscription.totalLicenses)} licenses
            ${next ? html`<span class=${soon ? 'lifecycle soon' : 'lifecycle muted'}> · ${next}</span>` : null}
          </li>`;
      })}
    </ul>`;
}

const PERIODS = { MONTH: 'month', YEAR: 'year' };
const FIELD_NAMES = { amount: 'The unit price', currency: 'The currency', period: 'The period' };

// A unit price to the cent at least ("32.10 EUR", not the stored "32.1"), decimals kept as text.
function formatPrice(price) {
  const [whole, fraction = ''] = price.amount.split('.');
  return formatMoney({ amount: `${whole}.${fraction.padEnd(2, '0')}`, currency: price.currency });
}

// The unit price and what the enabled seats cost per month (the API's figure, not computed here).
export function PriceSummary({ sku }) {
  if (!sku.price) return html`<div class="muted">No price set</div>`;
  return html`
    <div data-test="sku-price">${formatPrice(sku.price)} <span class="muted">per seat and ${PERIODS[sku.price.period]}</span></div>
    ${sku.monthlyCost ? html`<div data-test="sku-monthly-cost"><strong>${formatMoney(sku.monthlyCost)}</strong>
      <span class="muted"> a month for ${formatNumber(sku.enabledUnits)} seats</span></div>` : null}`;
}

const SET_PRICE = `
mutation SetSkuPrice($skuId: ID!, $price: MoneyInput) {
  setSkuPrice(skuId: $skuId, price: $price) { id price { amount currency period monthlyAmount } monthlyCost { amount currency } }
}`;

// The admin's form for a SKU's unit price: set it, or clear it. A refused value keeps what was
// typed, with the server's message beside the field.
export function PriceEditor({ sku, defaultCurrency, onSaved, onCancel }) {
  const [amount, setAmount] = useState(sku.price?.amount ?? '');
  const [currency, setCurrency] = useState(sku.price?.currency ?? defaultCurrency ?? '');
  const [period, setPeriod] = useState(sku.price?.period ?? 'MONTH');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const first = useRef(null);
  useEffect(() => first.current?.focus(), []);
  const prefix = `price-${sku.id}`;

  const send = async (price, what) => {
    setBusy(true);
    setError(null);
    try {
      const data = await graphql(SET_PRICE, { skuId: sku.id, price });
      onSaved(data.setSkuPrice, what);
    } catch (refused) {
      setError(refused);
    } finally {
      setBusy(false);
    }
  };
  const submit = event => {
    event.preventDefault();
    send({ amount: amount.trim(), currency: currency.trim(), period }, 'saved');
  };
  // The server's message is about the field ("is not a decimal amount…"): it follows its name.
  const fieldError = field => {
    const message = error?.fieldMessage?.(`price.${field}`);
    return message && `${FIELD_NAMES[field]} ${message}`;
  };
  const general = error && !['amount', 'currency', 'period'].some(fieldError) ? error : null;

  return html`
    <form class="price-editor" onSubmit=${submit} aria-label=${`Price of ${sku.displayName}`} novalidate>
      <div class="price-fields">
        <${Field} id=${`${prefix}-amount`} label="Unit price" error=${fieldError('amount')}
          help="Per seat, e.g. 36 or 12.50; at most 4 decimals.">
          ${attributes => html`<input ...${attributes} ref=${first} inputmode="decimal" autocomplete="off"
            value=${amount} onInput=${event => setAmount(event.target.value)} />`}
        </${Field}>
        <${Field} id=${`${prefix}-currency`} label="Currency" error=${fieldError('currency')} help="ISO code, e.g. EUR.">
          ${attributes => html`<input ...${attributes} maxlength="3" autocomplete="off" spellcheck="false" class="currency"
            value=${currency} onInput=${event => setCurrency(event.target.value.toUpperCase())} />`}
        </${Field}>
        <${Field} id=${`${prefix}-period`} label="Billed per" error=${fieldError('period')}>
          ${attributes => html`<select ...${attributes} value=${period} onChange=${event => setPeriod(event.target.value)}>
            <option value="MONTH">Month</option>
            <option value="YEAR">Year</option>
          </select>`}
        </${Field}>
      </div>
      <${ErrorBox} error=${general} title="The price was not saved" />
      <div class="actions">
        <button type="submit" disabled=${busy}>${busy ? 'Saving…' : 'Save price'}</button>
        ${sku.price ? html`<button type="button" class="secondary danger-text" disabled=${busy}
          onClick=${() => send(null, 'cleared')}>Clear price</button>` : null}
        <button type="button" class="secondary" disabled=${busy} onClick=${onCancel}>Cancel</button>
      </div>
    </form>`;
}
