// Waste: what is paid for and not used — the license report's totals per kind and currency, its
// findings a kind at a time with what removing each takes, and whether sign-in data allowed
// judging activity at all. Provider, threshold and kind live in the query string.

import { html, useState } from '../vendor/htm-preact.js';
import { download } from '../lib/api.js';
import { usePages } from '../lib/paging.js';
import { Link, setQuery } from '../lib/router.js';
import {
  Badge, Empty, ErrorBox, Field, Loading, Page, formatDate, formatDateTime, formatMoney, formatNumber, useIsAdmin, useQuery,
} from '../lib/ui.js';

const DEFAULT_DAYS = 90;
const PAGE = 50;

// In the report's order; the names say what a person would look for.
const KINDS = [
  { kind: 'DISABLED_ACCOUNT', label: 'Disabled accounts', help: 'Licenses held by accounts that cannot sign in.' },
  { kind: 'INACTIVE_USER', label: 'Inactive users', help: 'Licensed users whose latest sign-in is older than the threshold.' },
  { kind: 'NEVER_SIGNED_IN', label: 'Never signed in', help: 'Licensed users with no sign-in on record, created before the threshold.' },
  { kind: 'UNASSIGNED_SEATS', label: 'Unassigned seats', help: 'Paid seats nobody holds.' },
  { kind: 'OVERLAPPING_ASSIGNMENT', label: 'Overlapping licenses', help: 'Licenses another license of the same user already includes.' },
];

const SIGN_IN_FIELDS = {
  INTERACTIVE: 'interactive sign-in',
  NON_INTERACTIVE: 'non-interactive sign-in',
  SUCCESSFUL: 'successful sign-in',
};

const REPORT = `query WasteReport($providerId: ID, $inactiveDays: Int) {
  providers { id name }
  licenseReport(providerId: $providerId, inactiveDays: $inactiveDays) {
    generatedAt
    inactiveDays
    totals {
      findings
      unpricedFindings
      monthlyCost { amount currency }
      byKind { kind findings units monthlyCost { amount currency } }
    }
    signInData { providerId providerName available status licensedUsersUnknown message }
  }
}`;

const FINDINGS = `query WasteFindings($providerId: ID, $inactiveDays: Int, $kind: FindingKind, $first: Int, $after: String) {
  licenseReport(providerId: $providerId, inactiveDays: $inactiveDays) {
    findings(kind: $kind, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        kind units evidence
        assignedDirectly inheritedFromGroupIds removableDirectly removal licenseState licenseError
        lastSignInField lastSignInAt
        monthlyCost { amount currency }
        user { id userPrincipalName displayName accountEnabled }
        sku { id displayName skuPartNumber }
        containedIn { displayName }
      }
    }
  }
}`;

// The page's arguments as the address gives them; a threshold that is not a whole number is
// passed on as typed, so the server's refusal says what is wrong with it.
function argumentsOf(query) {
  const days = query.get('inactiveDays');
  return {
    providerId: query.get('providerId') || null,
    inactiveDays: days === null || days === '' ? DEFAULT_DAYS : Number(days),
    kind: KINDS.some(entry => entry.kind === query.get('kind')) ? query.get('kind') : null,
  };
}

export default function Waste({ query }) {
  const args = argumentsOf(query);
  const variables = { providerId: args.providerId, inactiveDays: args.inactiveDays };
  const { data, error, loading, reload } = useQuery(REPORT, variables);
  const change = values => {
    const next = { ...args, ...values };
    setQuery({ providerId: next.providerId, inactiveDays: next.inactiveDays === DEFAULT_DAYS ? null : next.inactiveDays, kind: next.kind });
  };
  const report = data?.licenseReport;

  return html`
    <${Page} title="Waste" actions=${report ? html`<${DownloadButton} args=${args} />` : null}>
      <${Filters} key=${args.inactiveDays} args=${args} providers=${data?.providers} error=${error} onChange=${change} />
      ${error && !(error.fieldMessage?.('inactiveDays')) ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : null}
      ${loading && !report ? html`<${Loading} label="Building the report…" />` : null}
      ${report ? html`<${Report} report=${report} args=${args} onKind=${kind => change({ kind })} stale=${loading} providers=${data.providers} />` : null}
    </${Page}>`;
}

// Provider (when there are several) and the inactivity threshold; applied on submit so that
// typing a number does not rebuild the report per keystroke.
function Filters({ args, providers, error, onChange }) {
  const [days, setDays] = useState(String(args.inactiveDays));
  const daysError = error?.fieldMessage?.('inactiveDays');
  // Read from the form: a submit right after the last keystroke may come before the render.
  const submit = event => {
    event.preventDefault();
    const typed = String(new FormData(event.currentTarget).get('inactiveDays') ?? '').trim();
    onChange({ inactiveDays: typed === '' ? DEFAULT_DAYS : Number(typed) });
  };
  return html`
    <form class="filters waste-filters" onSubmit=${submit} aria-label="Report settings">
      ${providers && providers.length > 1 ? html`
        <${Field} id="waste-provider" label="Provider">
          ${attributes => html`
            <select ...${attributes} value=${args.providerId ?? ''} onChange=${event => onChange({ providerId: event.target.value || null })}>
              <option value="">All providers</option>
              ${providers.map(provider => html`<option value=${provider.id}>${provider.name}</option>`)}
            </select>`}
        </${Field}>` : null}
      <${Field} id="waste-days" label="Inactive after (days)" error=${daysError ? `Inactive days ${daysError}.` : null}>
        ${attributes => html`
          <input ...${attributes} name="inactiveDays" type="number" min="1" max="36500" step="1" inputmode="numeric" required
            value=${days} onInput=${event => setDays(event.target.value)} />`}
      </${Field}>
      <div class="field"><button type="submit" class="secondary">Apply</button></div>
    </form>`;
}

function DownloadButton({ args }) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState(null);
  const save = async () => {
    setBusy(true);
    setFailure(null);
    try {
      await download('/export/findings.csv', { providerId: args.providerId, inactiveDays: args.inactiveDays }, 'findings.csv');
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <button type="button" class="secondary" onClick=${save} disabled=${busy}>${busy ? 'Preparing CSV…' : 'Download CSV'}</button>
    ${failure ? html`<${ErrorBox} title="The download failed" error=${failure} onRetry=${save} />` : null}`;
}

function Report({ report, args, onKind, stale, providers }) {
  const { totals } = report;
  const missing = report.signInData.filter(quality => !quality.available);
  const byKind = new Map(totals.byKind.map(total => [total.kind, total]));
  const selected = args.kind ?? KINDS.find(entry => byKind.get(entry.kind)?.findings > 0)?.kind ?? KINDS[0].kind;
  return html`
    <div class=${stale ? 'waste stale' : 'waste'} aria-busy=${stale ? 'true' : 'false'}>
      ${missing.length ? html`<${SignInNotice} missing=${missing} />` : null}
      <p class="muted built">
        Built at <time datetime=${report.generatedAt}>${formatDateTime(report.generatedAt)}</time>,
        counting users inactive after ${formatNumber(report.inactiveDays)} days. A report is reused for up to a minute while nothing changes.
      </p>
      ${providers.length === 0 ? html`
        <${Empty}>No provider is connected yet, so there is nothing to judge. <${Link} to="/settings/providers">Connect one</${Link}>.</${Empty}>` : null}
      <${Totals} totals=${totals} />
      ${totals.findings === 0 && providers.length > 0 ? html`
        <${Empty}><strong>No waste found — every paid seat is in use.</strong>${missing.length ? ' Inactive users could not be judged where sign-in data is missing (see above).' : null}</${Empty}>` : null}
      ${totals.findings > 0 ? html`
        <h2>By kind</h2>
        <div class="cards kind-cards">
          ${KINDS.map(entry => html`<${KindCard} entry=${entry} total=${byKind.get(entry.kind)} selected=${entry.kind === selected} onShow=${() => onKind(entry.kind)} />`)}
        </div>
        <${Findings} args=${args} kind=${selected} byKind=${byKind} onKind=${onKind} />` : null}
    </div>`;
}

function SignInNotice({ missing }) {
  const unknown = missing.reduce((sum, quality) => sum + quality.licensedUsersUnknown, 0);
  return html`
    <section class="notice sign-in-notice" data-test="sign-in-notice" aria-labelledby="sign-in-notice-title">
      <h2 id="sign-in-notice-title">Sign-in activity is missing</h2>
      <p>
        Inactive users and users who never signed in cannot be found without it: unknown is not inactive.
        ${unknown > 0
          ? html` <strong data-test="licensed-users-unknown" data-value=${unknown}>${formatNumber(unknown)}</strong> licensed ${unknown === 1 ? 'user is' : 'users are'} not judged, so the waste below may be understated.`
          : ' No licensed user is affected yet.'}
      </p>
      <ul>
        ${missing.map(quality => html`
          <li data-provider=${quality.providerId} data-unknown=${quality.licensedUsersUnknown}>
            ${quality.message}${quality.status ? html` <code class="code">${quality.status}</code>` : null}
          </li>`)}
      </ul>
    </section>`;
}

function Totals({ totals }) {
  const admin = useIsAdmin();
  return html`
    <div class="cards totals">
      <div class="card">
        <div class="muted">Findings</div>
        <div class="figure" data-test="total-findings" data-value=${totals.findings}>${formatNumber(totals.findings)}</div>
      </div>
      <div class="card">
        <div class="muted">Monthly cost</div>
        ${totals.monthlyCost.length
          ? html`<ul class="costs">${totals.monthlyCost.map(cost => html`
              <li class="figure" data-test="total-cost" data-currency=${cost.currency} data-amount=${cost.amount}>${formatMoney(cost)}</li>`)}</ul>`
          : html`<div class="figure">—</div>`}
        ${totals.monthlyCost.length > 1 ? html`<p class="muted small">One sum per currency; currencies are never converted.</p>` : null}
      </div>
      <div class="card">
        <div class="muted">Findings without a price</div>
        <div class="figure" data-test="unpriced-findings" data-value=${totals.unpricedFindings}>${formatNumber(totals.unpricedFindings)}</div>
        ${totals.unpricedFindings > 0
          ? html`<p class="small">Their cost is not counted. ${admin
            ? html`<${Link} to="/licenses">Set prices on the licenses</${Link}>.`
            : html`An admin can set prices on the <${Link} to="/licenses">licenses</${Link}>.`}</p>`
          : null}
      </div>
    </div>`;
}

function KindCard({ entry, total, selected, onShow }) {
  const findings = total?.findings ?? 0;
  return html`
    <div class=${selected ? 'card kind-card selected' : 'card kind-card'} data-test="kind-total" data-kind=${entry.kind}>
      <h3>${entry.label}</h3>
      <dl class="facts">
        <dt>Findings</dt><dd data-test="kind-findings" data-value=${findings}>${formatNumber(findings)}</dd>
        <dt>Seats</dt><dd data-test="kind-units" data-value=${total?.units ?? 0}>${formatNumber(total?.units ?? 0)}</dd>
      </dl>
      <div class="kind-costs">
        <div class="muted">Per month</div>
        ${total?.monthlyCost.length
          ? total.monthlyCost.map(cost => html`<div class="cost" data-test="kind-cost" data-currency=${cost.currency} data-amount=${cost.amount}>${formatMoney(cost)}</div>`)
          : html`<div>—</div>`}
      </div>
      ${findings > 0 && !selected ? html`<button type="button" class="link" onClick=${onShow}>Show ${entry.label.toLowerCase()}</button>` : null}
    </div>`;
}

function Findings({ args, kind, byKind, onKind }) {
  const variables = { providerId: args.providerId, inactiveDays: args.inactiveDays, kind, first: PAGE };
  const pages = usePages(FINDINGS, variables, data => data.licenseReport.findings);
  const entry = KINDS.find(candidate => candidate.kind === kind);
  return html`
    <h2 id="findings-title">Findings</h2>
    <div class="tabs" role="tablist" aria-labelledby="findings-title">
      ${KINDS.map(candidate => html`
        <button type="button" role="tab" id=${`tab-${candidate.kind}`} aria-controls="findings-panel"
          aria-selected=${candidate.kind === kind ? 'true' : 'false'} class=${candidate.kind === kind ? 'tab selected' : 'tab'}
          onClick=${() => onKind(candidate.kind)}>
          ${candidate.label} <span class="count">${formatNumber(byKind.get(candidate.kind)?.findings ?? 0)}</span>
        </button>`)}
    </div>
    <div id="findings-panel" role="tabpanel" aria-labelledby=${`tab-${kind}`}>
      <p class="muted">${entry.help}</p>
      ${pages.loading ? html`<${Loading} label="Loading findings…" />` : null}
      ${pages.error && !pages.loaded ? html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />` : null}
      ${pages.loaded && pages.nodes.length === 0 ? html`<${Empty}>No ${entry.label.toLowerCase()} found.</${Empty}>` : null}
      ${pages.nodes.length ? html`
        <div class="table-wrap">
          <table class="findings">
            <caption class="visually-hidden">${entry.label}</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">License</th>
                <th scope="col" class="number">Seats</th>
                <th scope="col">Evidence</th>
                <th scope="col">How to free it</th>
                <th scope="col" class="number">Per month</th>
              </tr>
            </thead>
            <tbody>${pages.nodes.map(finding => html`<${FindingRow} finding=${finding} />`)}</tbody>
          </table>
        </div>
        <div class="pager">
          <span class="muted" role="status">Showing ${formatNumber(pages.nodes.length)} of ${formatNumber(pages.totalCount)}</span>
          ${pages.hasNextPage ? html`
            <button type="button" class="secondary" onClick=${pages.loadMore} disabled=${pages.loadingMore}>
              ${pages.loadingMore ? 'Loading…' : 'Load more'}
            </button>` : null}
        </div>
        ${pages.error && pages.loaded ? html`<${ErrorBox} title="More findings could not be loaded" error=${pages.error} onRetry=${pages.retry} />` : null}` : null}
    </div>`;
}

function FindingRow({ finding }) {
  const { user, sku } = finding;
  return html`
    <tr data-test="finding" data-kind=${finding.kind}>
      <td class="user">
        ${user
          ? html`<${Link} to=${`/users?search=${encodeURIComponent(user.userPrincipalName)}`}>${user.displayName || user.userPrincipalName}</${Link}>
              <div class="muted small upn">${user.userPrincipalName}</div>
              ${user.accountEnabled ? null : html`<${Badge} tone="bad">disabled</${Badge}>`}`
          : html`<span class="muted">Nobody (unassigned)</span>`}
      </td>
      <td>
        ${sku.displayName}
        <div class="muted small"><code>${sku.skuPartNumber}</code></div>
        ${finding.containedIn ? html`<div class="small">included in ${finding.containedIn.displayName}</div>` : null}
      </td>
      <td class="number">${formatNumber(finding.units)}</td>
      <td class="evidence">
        ${finding.evidence}
        ${finding.lastSignInAt ? html`<div class="muted small">Last ${SIGN_IN_FIELDS[finding.lastSignInField] ?? 'sign-in'}: ${formatDate(finding.lastSignInAt)}</div>` : null}
      </td>
      <td><${Removal} finding=${finding} /></td>
      <td class="number">${finding.monthlyCost ? formatMoney(finding.monthlyCost) : html`<span class="muted">no price</span>`}</td>
    </tr>`;
}

// What freeing the seat takes: remove it from the user, or from the groups it comes from, and
// whether the license reports an error an admin should know of first.
function Removal({ finding }) {
  if (!finding.user) return html`<span class="small">Reduce the subscription's seat count, or assign them.</span>`;
  return html`
    <div class="removal">
      ${finding.removableDirectly
        ? html`<${Badge} tone="good">remove from user</${Badge}>`
        : html`<${Badge} tone="warn">${finding.inheritedFromGroupIds.length ? 'via group' : 'check source'}</${Badge}>`}
      ${finding.licenseError ? html` <${Badge} tone="bad">${finding.licenseError}</${Badge}>` : null}
      ${finding.licenseState && finding.licenseState !== 'Active' ? html` <${Badge}>${finding.licenseState}</${Badge}>` : null}
      <div class="small">${finding.removal}</div>
    </div>`;
}
