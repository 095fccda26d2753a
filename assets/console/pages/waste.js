// Waste: what is paid for and not used — the license report's totals per kind and currency, its
// findings a kind at a time with what removing each takes, and whether sign-in data allowed
// judging activity at all. Provider, threshold and kind live in the query string.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { download, graphql } from '../lib/api.js';
import { usePages } from '../lib/paging.js';
import { Link, navigate, setQuery } from '../lib/router.js';
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
      acceptedFindings
      unpricedFindings
      monthlyCost { amount currency }
      byKind { kind findings units accepted monthlyCost { amount currency } }
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
        acceptance { id reason acceptedBy expiresOn }
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
  // Raised when a finding is accepted or reopened: the report and its findings are read again.
  const [revision, setRevision] = useState(0);
  const { data, error, loading, reload } = useQuery(REPORT, variables, JSON.stringify({ variables, revision }));
  const change = values => {
    const next = { ...args, ...values };
    setQuery({ providerId: next.providerId, inactiveDays: next.inactiveDays === DEFAULT_DAYS ? null : next.inactiveDays, kind: next.kind });
  };
  const report = data?.licenseReport;

  return html`
    <${Page} title="Waste" actions=${report ? html`<${PlanButton} args=${args} providers=${data.providers} /><${DownloadButton} args=${args} />` : null}>
      <${Filters} key=${args.inactiveDays} args=${args} providers=${data?.providers} error=${error} onChange=${change} />
      ${error && !(error.fieldMessage?.('inactiveDays')) ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : null}
      ${loading && !report ? html`<${Loading} label="Building the report…" />` : null}
      ${report ? html`<${Report} report=${report} args=${args} onKind=${kind => change({ kind })} stale=${loading} providers=${data.providers}
        revision=${revision} onChanged=${() => setRevision(revision + 1)} />` : null}
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

function Report({ report, args, onKind, stale, providers, revision, onChanged }) {
  const { totals } = report;
  const missing = report.signInData.filter(quality => !quality.available);
  const byKind = new Map(totals.byKind.map(total => [total.kind, total]));
  const selected = args.kind ?? KINDS.find(entry => byKind.get(entry.kind)?.findings > 0)?.kind
    ?? KINDS.find(entry => byKind.get(entry.kind)?.accepted > 0)?.kind ?? KINDS[0].kind;
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
        <${Empty}><strong>${totals.acceptedFindings > 0
          ? `No open waste: ${formatNumber(totals.acceptedFindings)} accepted ${totals.acceptedFindings === 1 ? 'finding is' : 'findings are'} kept on purpose.`
          : 'No waste found — every paid seat is in use.'}</strong>${missing.length ? ' Inactive users could not be judged where sign-in data is missing (see above).' : null}</${Empty}>` : null}
      ${totals.findings > 0 || totals.acceptedFindings > 0 ? html`
        <h2>By kind</h2>
        <div class="cards kind-cards">
          ${KINDS.map(entry => html`<${KindCard} entry=${entry} total=${byKind.get(entry.kind)} selected=${entry.kind === selected} onShow=${() => onKind(entry.kind)} />`)}
        </div>
        <${Findings} args=${args} kind=${selected} byKind=${byKind} onKind=${onKind} revision=${revision} onChanged=${onChanged} />` : null}
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
        <div class="muted">Accepted</div>
        <div class="figure" data-test="accepted-findings" data-value=${totals.acceptedFindings}>${formatNumber(totals.acceptedFindings)}</div>
        <p class="muted small">Kept on purpose until their last day; in no sum here.</p>
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
        ${total?.accepted ? html`<dt>Accepted</dt><dd data-test="kind-accepted" data-value=${total.accepted}>${formatNumber(total.accepted)}</dd>` : null}
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

function Findings({ args, kind, byKind, onKind, revision, onChanged }) {
  const variables = { providerId: args.providerId, inactiveDays: args.inactiveDays, kind, first: PAGE };
  const pages = usePages(FINDINGS, variables, data => data.licenseReport.findings, JSON.stringify({ variables, revision }));
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
            <tbody>${pages.nodes.map(finding => html`<${FindingRow} finding=${finding} onChanged=${onChanged} />`)}</tbody>
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

function FindingRow({ finding, onChanged }) {
  const { user, sku } = finding;
  return html`
    <tr data-test="finding" data-kind=${finding.kind} data-accepted=${finding.acceptance ? 'true' : 'false'}>
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
      <td><${Removal} finding=${finding} />${user ? html`<${Acceptance} finding=${finding} onChanged=${onChanged} />` : null}</td>
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

// An accepted finding says until when and why, and an admin can reopen it; an open finding of a
// user's license can be accepted, with a reason and a last day.
function Acceptance({ finding, onChanged }) {
  const admin = useIsAdmin();
  const [asking, setAsking] = useState(false);
  const [failure, setFailure] = useState(null);
  const accepted = finding.acceptance;
  const reopen = async () => {
    setFailure(null);
    try {
      await graphql('mutation Reopen($id: ID!) { withdrawFindingAcceptance(id: $id) { id } }', { id: accepted.id });
      onChanged();
    } catch (error) {
      setFailure(error);
    }
  };
  if (accepted) {
    return html`
      <div class="acceptance small" data-test="acceptance">
        <${Badge} tone="neutral">accepted until ${formatDate(accepted.expiresOn)}</${Badge}>
        <div>${accepted.reason} <span class="muted">(${accepted.acceptedBy})</span></div>
        ${admin ? html`<button type="button" class="link" onClick=${reopen}>Reopen</button>` : null}
        ${failure ? html`<${ErrorBox} title="The finding was not reopened" error=${failure} />` : null}
      </div>`;
  }
  if (!admin) return null;
  return html`
    <button type="button" class="link" onClick=${() => setAsking(true)}>Accept…</button>
    ${asking ? html`<${AcceptDialog} finding=${finding} onClose=${() => setAsking(false)} onAccepted=${() => { setAsking(false); onChanged(); }} />` : null}`;
}

const ACCEPT = `mutation Accept($input: AcceptFindingInput!) { acceptFinding(input: $input) { id } }`;

function inDays(days) {
  const day = new Date(Date.now() + days * 86_400_000);
  return day.toISOString().slice(0, 10);
}

function AcceptDialog({ finding, onClose, onAccepted }) {
  const dialog = useRef(null);
  const [reason, setReason] = useState('');
  const [expiresOn, setExpiresOn] = useState(inDays(90));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const element = dialog.current;
    element.showModal();
    element.querySelector('textarea')?.focus();
    return () => { if (element.open) element.close(); };
  }, []);
  const submit = async event => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await graphql(ACCEPT, { input: {
        userId: finding.user.id, skuId: finding.sku.id, kind: finding.kind, reason, expiresOn,
      } });
      onAccepted();
    } catch (refused) {
      setError(refused);
      setBusy(false);
    }
  };
  const general = error && !error.fields.length ? error : null;
  return html`
    <dialog ref=${dialog} class="confirm" aria-labelledby="accept-title" onClose=${onClose}>
      <form onSubmit=${submit} aria-label="Accept finding">
        <h2 id="accept-title">Keep ${finding.sku.displayName} for ${finding.user.userPrincipalName}?</h2>
        <p class="small">The finding stays listed as accepted and leaves every total until its last day, or until it becomes another kind of finding.</p>
        <${Field} id="accept-reason" label="Reason" error=${error?.fieldMessage('reason')}>
          ${attributes => html`<textarea ...${attributes} rows="2" maxlength="500" required value=${reason} onInput=${event => setReason(event.target.value)}></textarea>`}
        </${Field}>
        <${Field} id="accept-until" label="Last day" error=${error?.fieldMessage('expiresOn')}>
          ${attributes => html`<input ...${attributes} type="date" required value=${expiresOn} onInput=${event => setExpiresOn(event.target.value)} />`}
        </${Field}>
        <${ErrorBox} error=${general} title="The finding was not accepted" />
        <div class="actions">
          <button type="submit" disabled=${busy}>${busy ? 'Accepting…' : 'Accept'}</button>
          <button type="button" class="secondary" onClick=${onClose}>Cancel</button>
        </div>
      </form>
    </dialog>`;
}

const USER_KINDS = KINDS.filter(entry => entry.kind !== 'UNASSIGNED_SEATS');
const CREATE_PLAN = `mutation Plan($input: CreateReclaimPlanInput!) { createReclaimPlan(input: $input) { id } }`;

// Makes a reclaim plan from this report's findings (admins): the dry run a second admin approves.
function PlanButton({ args, providers }) {
  const admin = useIsAdmin();
  const [asking, setAsking] = useState(false);
  if (!admin || providers.length === 0) return null;
  return html`
    <button type="button" onClick=${() => setAsking(true)}>Plan reclaim…</button>
    ${asking ? html`<${PlanDialog} args=${args} providers=${providers} onClose=${() => setAsking(false)} />` : null}`;
}

function PlanDialog({ args, providers, onClose }) {
  const dialog = useRef(null);
  const [providerId, setProviderId] = useState(args.providerId ?? (providers.length === 1 ? providers[0].id : ''));
  const [kinds, setKinds] = useState(() => USER_KINDS.map(entry => entry.kind));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const element = dialog.current;
    element.showModal();
    return () => { if (element.open) element.close(); };
  }, []);
  const toggle = kind => setKinds(kinds.includes(kind) ? kinds.filter(other => other !== kind) : [...kinds, kind]);
  const submit = async event => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const data = await graphql(CREATE_PLAN, { input: { providerId, kinds, inactiveDays: args.inactiveDays } });
      navigate(`/reclaim/${data.createReclaimPlan.id}`);
    } catch (refused) {
      setError(refused);
      setBusy(false);
    }
  };
  const message = error?.fieldMessage('filter') ?? error?.fieldMessage('kinds');
  return html`
    <dialog ref=${dialog} class="confirm" aria-labelledby="plan-title" onClose=${onClose}>
      <form onSubmit=${submit} aria-label="Plan reclaim">
        <h2 id="plan-title">Plan reclaim</h2>
        <p class="small">A plan lists what reclaiming would do to each license these findings name, and what it would save. Nothing changes until an admin approves it and it runs.</p>
        ${providers.length > 1 ? html`
          <${Field} id="plan-provider" label="Provider" error=${error?.fieldMessage('providerId')}>
            ${attributes => html`<select ...${attributes} required value=${providerId} onChange=${event => setProviderId(event.target.value)}>
              <option value="">Choose a provider</option>
              ${providers.map(provider => html`<option value=${provider.id}>${provider.name}</option>`)}
            </select>`}
          </${Field}>` : null}
        <fieldset class="kinds">
          <legend>Findings</legend>
          ${USER_KINDS.map(entry => html`
            <label class="check"><input type="checkbox" checked=${kinds.includes(entry.kind)} onChange=${() => toggle(entry.kind)} /> ${entry.label}</label>`)}
        </fieldset>
        ${message ? html`<p class="field-error" role="alert">${message}</p>` : null}
        <${ErrorBox} error=${error && !message ? error : null} title="No plan was made" />
        <div class="actions">
          <button type="submit" disabled=${busy || !providerId || kinds.length === 0}>${busy ? 'Planning…' : 'Make the plan'}</button>
          <button type="button" class="secondary" onClick=${onClose}>Cancel</button>
        </div>
      </form>
    </dialog>`;
}
