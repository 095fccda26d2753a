// Reclaim: the plans that turn findings into freed seats. `/reclaim` lists them; `/reclaim/{id}`
// shows one — what it would free and save, each license with its action or the reason a person
// must act — and lets an admin approve or cancel it. Plans are made from the Waste page.

import { html, useState } from '../vendor/htm-preact.js';
import { graphql } from '../lib/api.js';
import { LoadMore, usePages } from '../lib/paging.js';
import { Link } from '../lib/router.js';
import {
  Badge, ConfirmDialog, Empty, ErrorBox, Loading, Page, formatCosts, formatDateTime, formatMoney, formatNumber, useIsAdmin, useQuery,
} from '../lib/ui.js';

const STATUS = {
  PENDING_APPROVAL: { label: 'waiting for approval', tone: 'warn' },
  APPROVED: { label: 'approved', tone: 'good' },
  CANCELLED: { label: 'cancelled', tone: 'neutral' },
};

const SUMMARY = 'summary { items toRemove manual unpriced monthlySaving { amount currency } }';

const PLANS = `query ReclaimPlans($first: Int, $after: String) {
  reclaimPlans(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id providerId status createdBy createdAt decidedBy decidedAt ${SUMMARY} }
  }
}`;

const PLAN = `query ReclaimPlan($id: ID!) {
  providers { id name }
  reclaimPlan(id: $id) {
    id providerId status kinds inactiveDays createdBy createdAt decidedBy decidedAt ${SUMMARY}
    warnings { code message hint }
  }
}`;

const ITEMS = `query ReclaimItems($id: ID!, $first: Int, $after: String) {
  reclaimPlan(id: $id) {
    items(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id userPrincipalName skuDisplayName findingKind evidence action manualReason manualExplanation
        groups { id displayName } monthlySaving { amount currency }
      }
    }
  }
}`;

export default function Reclaim({ params }) {
  return params?.id ? html`<${PlanPage} id=${params.id} />` : html`<${PlanList} />`;
}

function StatusBadge({ status }) {
  const shown = STATUS[status] ?? { label: status, tone: 'neutral' };
  return html`<${Badge} tone=${shown.tone}>${shown.label}</${Badge}>`;
}

function Saving({ summary }) {
  return summary.monthlySaving.length
    ? html`${formatCosts(summary.monthlySaving)}<span class="muted"> a month</span>`
    : html`<span class="muted">no priced seat</span>`;
}

function PlanList() {
  const pages = usePages(PLANS, { first: 50 }, data => data.reclaimPlans);
  const providers = useQuery('query { providers { id name } }', {});
  const names = new Map((providers.data?.providers ?? []).map(provider => [provider.id, provider.name]));
  return html`
    <${Page} title="Reclaim plans">
      <p class="muted">
        A plan lists what freeing wasted seats would do, license by license, before anything changes.
        Make one from the <${Link} to="/waste">Waste</${Link}> page; an admin approves or cancels it.
      </p>
      ${pages.loading ? html`<${Loading} />` : null}
      ${pages.error && !pages.loaded ? html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />` : null}
      ${pages.loaded && pages.nodes.length === 0 ? html`<${Empty}>No plan yet. <${Link} to="/waste">Find the waste first</${Link}>.</${Empty}>` : null}
      ${pages.nodes.length ? html`
        <div class="table-wrap">
          <table class="plans">
            <caption class="visually-hidden">Reclaim plans, newest first</caption>
            <thead><tr>
              <th scope="col">Plan</th><th scope="col">Provider</th><th scope="col">Status</th>
              <th scope="col" class="number">Seats to free</th><th scope="col" class="number">Manual</th>
              <th scope="col">Saving</th><th scope="col">Made</th>
            </tr></thead>
            <tbody>${pages.nodes.map(plan => html`
              <tr data-test="plan" data-status=${plan.status}>
                <td><${Link} to=${`/reclaim/${plan.id}`}>Plan ${plan.id}</${Link}></td>
                <td>${names.get(plan.providerId) ?? plan.providerId}</td>
                <td><${StatusBadge} status=${plan.status} /></td>
                <td class="number">${formatNumber(plan.summary.toRemove)}</td>
                <td class="number">${formatNumber(plan.summary.manual)}</td>
                <td><${Saving} summary=${plan.summary} /></td>
                <td>${formatDateTime(plan.createdAt)}<div class="muted small">by ${plan.createdBy}</div></td>
              </tr>`)}
            </tbody>
          </table>
        </div>
        <${LoadMore} pages=${pages} />` : null}
    </${Page}>`;
}

function PlanPage({ id }) {
  const { data, error, loading, reload } = useQuery(PLAN, { id });
  const plan = data?.reclaimPlan;
  if (loading && !data) return html`<${Loading} />`;
  if (error && !data) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!plan) {
    return html`<${Page} title="Plan not found"><p>No reclaim plan ${id}. <${Link} to="/reclaim">All plans</${Link}>.</p></${Page}>`;
  }
  const provider = data.providers.find(candidate => candidate.id === plan.providerId);
  return html`
    <${Page} title=${`Reclaim plan ${plan.id}`} actions=${html`<${Decisions} plan=${plan} onDecided=${reload} />`}>
      <p><${Link} to="/reclaim">All plans</${Link}></p>
      ${plan.warnings.map(warning => html`
        <div class="notice" role="note" data-test="plan-warning" data-code=${warning.code}>
          <p><strong>${warning.message}</strong></p>
          <p class="hint">${warning.hint}</p>
        </div>`)}
      <div class="cards totals" data-test="plan-summary">
        <div class="card"><div class="muted">Status</div><div class="figure"><${StatusBadge} status=${plan.status} /></div>
          ${plan.decidedBy ? html`<p class="small">by ${plan.decidedBy}, ${formatDateTime(plan.decidedAt)}</p>` : null}</div>
        <div class="card"><div class="muted">Seats to free</div>
          <div class="figure" data-test="to-remove" data-value=${plan.summary.toRemove}>${formatNumber(plan.summary.toRemove)}</div></div>
        <div class="card"><div class="muted">For a person to handle</div>
          <div class="figure" data-test="manual" data-value=${plan.summary.manual}>${formatNumber(plan.summary.manual)}</div></div>
        <div class="card"><div class="muted">Monthly saving</div>
          <div class="figure" data-test="saving">${plan.summary.monthlySaving.length ? formatCosts(plan.summary.monthlySaving) : '—'}</div>
          ${plan.summary.unpriced ? html`<p class="small">${formatNumber(plan.summary.unpriced)} ${plan.summary.unpriced === 1 ? 'seat without a price is' : 'seats without a price are'} not counted.</p>` : null}</div>
      </div>
      <p class="muted">
        Made by ${plan.createdBy} on ${formatDateTime(plan.createdAt)} for ${provider?.name ?? `provider ${plan.providerId}`},
        from ${plan.kinds.length ? plan.kinds.join(', ').toLowerCase().replaceAll('_', ' ') : 'every kind of finding'},
        users inactive after ${formatNumber(plan.inactiveDays)} days. A plan is fixed when it is made: later syncs do not change it.
      </p>
      <${Items} id=${plan.id} />
    </${Page}>`;
}

// Approve and cancel, for admins, each after a confirmation.
function Decisions({ plan, onDecided }) {
  const admin = useIsAdmin();
  const [asking, setAsking] = useState(null);
  if (!admin || plan.status === 'CANCELLED') return null;
  const decide = async mutation => {
    await graphql(`mutation Decide($id: ID!) { decided: ${mutation}(id: $id) { id status } }`, { id: plan.id });
    setAsking(null);
    onDecided();
  };
  return html`
    ${plan.status === 'PENDING_APPROVAL' ? html`<button type="button" onClick=${() => setAsking('approve')}>Approve</button>` : null}
    <button type="button" class="secondary" onClick=${() => setAsking('cancel')}>Cancel plan</button>
    ${asking === 'approve' ? html`
      <${ConfirmDialog} id="approve-plan" title=${`Approve plan ${plan.id}?`} confirmLabel="Approve" busyLabel="Approving…"
        errorTitle="The plan was not approved" onConfirm=${() => decide('approveReclaimPlan')} onClose=${() => setAsking(null)}>
        <p>It removes ${formatNumber(plan.summary.toRemove)} directly assigned licenses when it runs; the ${formatNumber(plan.summary.manual)} others stay for a person to handle.
          Nothing changes at the provider until the plan runs.</p>
      </${ConfirmDialog}>` : null}
    ${asking === 'cancel' ? html`
      <${ConfirmDialog} id="cancel-plan" title=${`Cancel plan ${plan.id}?`} confirmLabel="Cancel plan" busyLabel="Cancelling…"
        errorTitle="The plan was not cancelled" onConfirm=${() => decide('cancelReclaimPlan')} onClose=${() => setAsking(null)}>
        <p>A cancelled plan never runs. Make a new one from the Waste page when needed.</p>
      </${ConfirmDialog}>` : null}`;
}

function Items({ id }) {
  const pages = usePages(ITEMS, { id, first: 100 }, data => data.reclaimPlan.items);
  return html`
    <h2>Licenses</h2>
    ${pages.loading ? html`<${Loading} />` : null}
    ${pages.error && !pages.loaded ? html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />` : null}
    ${pages.nodes.length ? html`
      <div class="table-wrap">
        <table class="plan-items">
          <caption class="visually-hidden">The plan's licenses, by user</caption>
          <thead><tr>
            <th scope="col">User</th><th scope="col">License</th><th scope="col">Action</th>
            <th scope="col">Evidence</th><th scope="col" class="number">Per month</th>
          </tr></thead>
          <tbody>${pages.nodes.map(item => html`
            <tr data-test="plan-item" data-action=${item.action} data-reason=${item.manualReason ?? ''}>
              <td class="user">${item.userPrincipalName}</td>
              <td>${item.skuDisplayName}</td>
              <td>
                ${item.action === 'REMOVE_DIRECT'
                  ? html`<${Badge} tone="good">remove from user</${Badge}>`
                  : html`<${Badge} tone="warn">manual</${Badge}>
                      <div class="small">${item.manualExplanation ?? item.manualReason}</div>
                      ${item.groups.length ? html`<div class="muted small" data-test="item-groups">Groups: ${item.groups.map(group => group.displayName ?? group.id).join(', ')}</div>` : null}`}
              </td>
              <td class="evidence small">${item.evidence}</td>
              <td class="number">${item.monthlySaving ? formatMoney(item.monthlySaving) : html`<span class="muted">—</span>`}</td>
            </tr>`)}
          </tbody>
        </table>
      </div>
      <${LoadMore} pages=${pages} />` : null}`;
}
