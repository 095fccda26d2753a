// Renewals: the subscriptions whose next lifecycle date is near — renewals, expiries, trials
// ending —, soonest first, each with the seats to have after it (the peak consumption of the
// look-back plus the server's buffer) and what that changes in cost. The window and look-back
// live in the query string.

import { html } from '../vendor/htm-preact.js';
import { Link, setQuery } from '../lib/router.js';
import { Badge, Empty, ErrorBox, Field, Loading, Page, daysUntil, formatDate, formatMoney, formatNumber, useQuery } from '../lib/ui.js';

const RENEWALS = `query Renewals($withinDays: Int!, $lookbackDays: Int!) {
  renewals(withinDays: $withinDays, lookbackDays: $lookbackDays) {
    subscription { id }
    provider { id name }
    sku { id displayName }
    kind status isTrial date seatsToday consumedToday peakConsumed recommendedSeats seatDifference
    costDifference { currency monthlyAmount yearlyAmount }
  }
}`;

const WINDOWS = [30, 90, 180, 365];
const LOOKBACKS = [30, 90, 180, 365];
const DEFAULT_DAYS = 90;

const KINDS = {
  RENEWAL: { label: 'Renewal', tone: 'neutral' },
  EXPIRY: { label: 'Expiry', tone: 'warn' },
  TRIAL_END: { label: 'Trial ends', tone: 'warn' },
};

// One of `choices` from the query string, or the default.
function daysOf(query, name, choices) {
  const value = Number(query.get(name));
  return choices.includes(value) ? value : DEFAULT_DAYS;
}

export default function Renewals({ query }) {
  const withinDays = daysOf(query, 'within', WINDOWS);
  const lookbackDays = daysOf(query, 'lookback', LOOKBACKS);
  const { data, error, loading, reload } = useQuery(RENEWALS, { withinDays, lookbackDays });
  let body;
  if (!data) {
    body = error ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : html`<${Loading} label="Loading renewals…" />`;
  } else if (!data.renewals.length) {
    body = html`<${Empty}><strong>Nothing renews, expires or ends in the next ${withinDays} days.</strong> Subscriptions appear here as their next date comes near.</${Empty}>`;
  } else {
    body = html`
      ${error ? html`<${ErrorBox} error=${error} onRetry=${reload} title="Could not refresh" />` : null}
      <${RenewalTable} renewals=${data.renewals} lookbackDays=${lookbackDays} />`;
  }
  return html`
    <${Page} title="Renewals">
      <form class="filters" aria-label="Renewal window" onSubmit=${event => event.preventDefault()}>
        <${Field} id="renewals-within" label="Due within">
          ${attributes => html`
            <select ...${attributes} value=${withinDays} onChange=${event => setQuery({ within: event.target.value, lookback: lookbackDays })}>
              ${WINDOWS.map(days => html`<option value=${days}>${days} days</option>`)}
            </select>`}
        </${Field}>
        <${Field} id="renewals-lookback" label="Peak over the last">
          ${attributes => html`
            <select ...${attributes} value=${lookbackDays} onChange=${event => setQuery({ within: withinDays, lookback: event.target.value })}>
              ${LOOKBACKS.map(days => html`<option value=${days}>${days} days</option>`)}
            </select>`}
        </${Field}>
      </form>
      ${loading && data ? html`<${Loading} label="Refreshing…" />` : null}
      ${body}
    </${Page}>`;
}

function RenewalTable({ renewals, lookbackDays }) {
  const several = new Set(renewals.map(renewal => renewal.provider.id)).size > 1;
  return html`
    <p class="muted">Recommended seats: the highest consumption of the last ${lookbackDays} days plus the server's buffer, rounded up, never below today's consumption.</p>
    <div class="table-wrap">
      <table class="renewals">
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">License</th>
            <th scope="col">What happens</th>
            <th scope="col" class="number">Seats</th>
            <th scope="col" class="number">Used today</th>
            <th scope="col" class="number">Peak</th>
            <th scope="col" class="number">Recommended</th>
            <th scope="col" class="number">Difference</th>
            <th scope="col" class="number">Cost per month / year</th>
          </tr>
        </thead>
        <tbody>${renewals.map(renewal => html`<${RenewalRow} key=${renewal.subscription.id} renewal=${renewal} several=${several} />`)}</tbody>
      </table>
    </div>`;
}

function signed(value) {
  return value > 0 ? `+${formatNumber(value)}` : formatNumber(value);
}

// A difference of money with its sign: formatMoney groups the whole part as an integer, which
// would lose the sign of e.g. -0.50.
function signedMoney(amount, currency) {
  const negative = amount.startsWith('-');
  const shown = formatMoney({ amount: negative ? amount.slice(1) : amount, currency });
  return negative ? `−${shown}` : amount === '0.00' ? shown : `+${shown}`;
}

function RenewalRow({ renewal, several }) {
  const kind = KINDS[renewal.kind] ?? { label: renewal.kind, tone: 'neutral' };
  const days = daysUntil(renewal.date);
  const cost = renewal.costDifference;
  return html`
    <tr data-test="renewal">
      <td>${formatDate(renewal.date)}<br /><span class="muted">${days <= 0 ? 'today' : `in ${days} days`}</span></td>
      <td>
        ${renewal.sku ? html`<${Link} to=${`/licenses/${renewal.sku.id}`}>${renewal.sku.displayName}</${Link}>` : html`<span class="muted">A SKU no longer listed</span>`}
        ${several ? html`<br /><span class="muted">${renewal.provider.name}</span>` : null}
      </td>
      <td><${Badge} tone=${kind.tone}>${kind.label}</${Badge}> <span class="muted">${renewal.status}</span></td>
      <td class="number">${formatNumber(renewal.seatsToday)}</td>
      <td class="number">${formatNumber(renewal.consumedToday)}</td>
      <td class="number">${formatNumber(renewal.peakConsumed)}</td>
      <td class="number" data-test="recommended"><strong>${formatNumber(renewal.recommendedSeats)}</strong></td>
      <td class="number">${renewal.seatDifference === null ? '—' : signed(renewal.seatDifference)}</td>
      <td class="number">${cost
        ? html`${signedMoney(cost.monthlyAmount, cost.currency)}<br /><span class="muted">${signedMoney(cost.yearlyAmount, cost.currency)}</span>`
        : html`<span class="muted">no price</span>`}</td>
    </tr>`;
}
