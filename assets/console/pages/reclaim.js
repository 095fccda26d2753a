// Reclaim: the plans that turn findings into freed seats. `/reclaim` lists them; `/reclaim/{id}`
// shows one — what it would free and save, each license with its action or the reason a person
// must act — and lets an admin approve, execute or cancel it, follow its execution live, and put
// removed licenses back. Plans are made from the Waste page.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { ApiError, graphql, subscribe } from '../lib/api.js';
import { LoadMore, usePages } from '../lib/paging.js';
import { Link } from '../lib/router.js';
import {
  Badge, ConfirmDialog, Empty, ErrorBox, Loading, Page, formatCosts, formatDateTime, formatMoney, formatNumber, useIsAdmin, useQuery,
} from '../lib/ui.js';

const STATUS = {
  PENDING_APPROVAL: { label: 'waiting for approval', tone: 'warn' },
  APPROVED: { label: 'approved', tone: 'good' },
  CANCELLED: { label: 'cancelled', tone: 'neutral' },
  EXECUTED: { label: 'executed', tone: 'good' },
};

// What execution or undo did to an item, in words; a code not listed shows as itself.
const OUTCOMES = {
  REMOVED: { label: 'removed', tone: 'good' },
  ALREADY_REMOVED: { label: 'already removed', tone: 'good' },
  SKIPPED_STALE: { label: 'skipped: no longer waste', tone: 'neutral' },
  INHERITED_FROM_GROUP: { label: 'skipped: comes from a group', tone: 'warn' },
  USER_NOT_FOUND: { label: 'user not found', tone: 'warn' },
  COUNT_VIOLATION: { label: 'no free seat', tone: 'bad' },
  USAGE_LOCATION_MISSING: { label: 'no usage location', tone: 'bad' },
  LICENSE_WRITE_REFUSED: { label: 'refused by the provider', tone: 'bad' },
  LICENSE_WRITE_UNSUPPORTED: { label: 'provider cannot change licenses', tone: 'bad' },
  ADDED: { label: 'put back', tone: 'good' },
};

const EXECUTION_STATUS = {
  QUEUED: { label: 'queued', tone: 'neutral' },
  RUNNING: { label: 'running', tone: 'neutral' },
  SUCCEEDED: { label: 'finished', tone: 'good' },
  FAILED: { label: 'failed', tone: 'bad' },
  CANCELLED: { label: 'cancelled', tone: 'warn' },
};

// The API takes at most this many items per undoReclaim.
const UNDO_BATCH = 50;
const DAY = 86_400_000;

const SUMMARY = 'summary { items toRemove manual unpriced monthlySaving { amount currency } }';
const EXECUTION = 'execution { runId status attempt startedAt finishedAt error { code message hint } items done outcomes { code items } }';
// What changes as a plan is decided and executed: what mutations and the subscription give back.
const STATE = `id status decidedBy decidedAt executedAt ${EXECUTION}`;
const OUTCOME = '{ code message hint at }';
const ITEM = `id userPrincipalName skuDisplayName findingKind evidence action manualReason manualExplanation
  groups { id displayName } monthlySaving { amount currency }
  outcome ${OUTCOME} undo ${OUTCOME} undoneBy undoableUntil`;

const PLANS = `query ReclaimPlans($first: Int, $after: String) {
  reclaimPlans(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id providerId status createdBy createdAt decidedBy decidedAt executedAt ${SUMMARY}
      execution { status items done } }
  }
}`;

const PLAN = `query ReclaimPlan($id: ID!) {
  providers { id name }
  reclaimPlan(id: $id) {
    ${STATE} providerId kinds inactiveDays createdBy createdAt ${SUMMARY}
    warnings { code message hint }
  }
}`;

const ITEMS = `query ReclaimItems($id: ID!, $first: Int, $after: String) {
  reclaimPlan(id: $id) {
    items(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { ${ITEM} }
    }
  }
}`;

// The items' outcomes alone, read while an execution runs.
const OUTCOMES_NOW = `query ReclaimOutcomes($id: ID!, $first: Int) {
  reclaimPlan(id: $id) { items(first: $first) { nodes { id outcome ${OUTCOME} undoableUntil } } }
}`;
const OUTCOMES_EVERY = 1000;

const UPDATED = `subscription ReclaimPlanUpdated($id: ID!) { reclaimPlanUpdated(id: $id) { ${STATE} } }`;
const EXECUTE = `mutation ExecuteReclaimPlan($id: ID!) { executeReclaimPlan(id: $id) { ${STATE} } }`;
const UNDO = `mutation UndoReclaim($ids: [ID!]!) { undoReclaim(itemIds: $ids) { ${ITEM} } }`;

export default function Reclaim({ params }) {
  return params?.id ? html`<${PlanPage} id=${params.id} />` : html`<${PlanList} />`;
}

function Shown({ shown }) {
  return html`<${Badge} tone=${shown.tone}>${shown.label}</${Badge}>`;
}

function StatusBadge({ status }) {
  return html`<${Shown} shown=${STATUS[status] ?? { label: status, tone: 'neutral' }} />`;
}

function outcomeShown(code) {
  return OUTCOMES[code] ?? { label: code.toLowerCase().replaceAll('_', ' '), tone: 'neutral' };
}

const isRunning = execution => execution?.status === 'QUEUED' || execution?.status === 'RUNNING';

// An execution that stopped before its last item, which executing again resumes.
const isStopped = plan => plan.status === 'APPROVED' && (plan.execution.status === 'FAILED' || plan.execution.status === 'CANCELLED');

function Saving({ summary }) {
  return summary.monthlySaving.length
    ? html`${formatCosts(summary.monthlySaving)}<span class="muted"> a month</span>`
    : html`<span class="muted">no priced seat</span>`;
}

// How long undo stays possible, in days, read from an item removed: its deadline less the
// moment of its removal. Null until an item has been removed.
function undoDays(items) {
  const removed = items.find(item => item.undoableUntil && item.outcome?.at);
  return removed ? Math.round((new Date(removed.undoableUntil) - new Date(removed.outcome.at)) / DAY) : null;
}

function PlanList() {
  const pages = usePages(PLANS, { first: 50 }, data => data.reclaimPlans);
  const providers = useQuery('query { providers { id name } }', {});
  const names = new Map((providers.data?.providers ?? []).map(provider => [provider.id, provider.name]));
  return html`
    <${Page} title="Reclaim plans">
      <p class="muted">
        A plan lists what freeing wasted seats would do, license by license, before anything changes.
        Make one from the <${Link} to="/waste">Waste</${Link}> page; an admin approves it, then executes or cancels it.
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
                <td><${StatusBadge} status=${plan.status} /><${ListExecution} plan=${plan} /></td>
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

// Under a listed plan's status: when it was executed, or how far an execution has come.
function ListExecution({ plan }) {
  const { execution } = plan;
  if (plan.executedAt) return html`<div class="muted small">${formatDateTime(plan.executedAt)}</div>`;
  if (isRunning(execution)) return html`<div class="muted small">executing, ${formatNumber(execution.done)} of ${formatNumber(execution.items)}</div>`;
  if (isStopped(plan)) return html`<div class="muted small">execution ${EXECUTION_STATUS[execution.status].label}, ${formatNumber(execution.done)} of ${formatNumber(execution.items)} done</div>`;
  return null;
}

function PlanPage({ id }) {
  const { data, error, loading, reload } = useQuery(PLAN, { id });
  // The plan's state as a mutation or the subscription last gave it: newer than the query's.
  const [state, setState] = useState(null);
  const items = usePages(ITEMS, { id, first: 100 }, data => data.reclaimPlan.items);
  // Outcomes of the items shown, read as the execution moves: newer than the page's.
  const [outcomes, setOutcomes] = useState(() => new Map());
  const outcomesRead = useRef(0);
  useEffect(() => { setState(null); setOutcomes(new Map()); }, [id]);

  // At most once a second while it runs; a read that fails or is skipped changes nothing, as
  // every outcome is read again when the execution ends.
  const readOutcomes = () => {
    const now = Date.now();
    if (now - outcomesRead.current < OUTCOMES_EVERY) return;
    outcomesRead.current = now;
    graphql(OUTCOMES_NOW, { id, first: Math.min(500, Math.max(items.nodes.length, 1)) }).then(
      answer => setOutcomes(previous => new Map([...previous, ...answer.reclaimPlan.items.nodes.map(item => [item.id, item])])),
      () => {},
    );
  };
  // Items are read again once an execution has ended, however its end was learnt: the execute
  // mutation itself when it was quick, else the subscription's last state.
  const update = next => {
    const before = state?.id === next.id ? state : data?.reclaimPlan;
    setState(next);
    if (next.execution.status !== null && !isRunning(next.execution)) {
      setOutcomes(new Map());
      items.reload();
    } else if (isRunning(next.execution) && next.execution.done !== before?.execution.done) {
      readOutcomes();
    }
  };
  const loaded = data?.reclaimPlan;
  const plan = loaded && { ...loaded, ...(state?.id === loaded.id ? state : {}) };
  if (loading && !data) return html`<${Loading} />`;
  if (error && !data) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!plan) {
    return html`<${Page} title="Plan not found"><p>No reclaim plan ${id}. <${Link} to="/reclaim">All plans</${Link}>.</p></${Page}>`;
  }
  const provider = data.providers.find(candidate => candidate.id === plan.providerId);
  return html`
    <${Page} title=${`Reclaim plan ${plan.id}`}
      actions=${html`<${Decisions} plan=${plan} items=${items.nodes} providerName=${provider?.name} onChanged=${update} />`}>
      <p><${Link} to="/reclaim">All plans</${Link}></p>
      ${plan.warnings.map(warning => html`
        <div class="notice" role="note" data-test="plan-warning" data-code=${warning.code}>
          <p><strong>${warning.message}</strong></p>
          <p class="hint">${warning.hint}</p>
        </div>`)}
      <div class="cards totals" data-test="plan-summary">
        <div class="card"><div class="muted">Status</div><div class="figure"><${StatusBadge} status=${plan.status} /></div>
          ${plan.decidedBy ? html`<p class="small">by ${plan.decidedBy}, ${formatDateTime(plan.decidedAt)}</p>` : null}
          ${plan.executedAt ? html`<p class="small" data-test="executed-at">executed ${formatDateTime(plan.executedAt)}</p>` : null}</div>
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
      <${Execution} plan=${plan} items=${items.nodes} providerName=${provider?.name} onChanged=${update} />
      <${Items} pages=${items} outcomes=${outcomes} />
    </${Page}>`;
}

// Starts (or resumes) a plan's execution; an app that may not change licenses says so in the
// message, so the usual advice for FORBIDDEN (ask an admin) would mislead.
async function execute(id) {
  try {
    return (await graphql(EXECUTE, { id })).executeReclaimPlan;
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === 'FORBIDDEN') {
      throw new ApiError({
        message: failure.message,
        code: failure.code,
        hint: 'Give the provider\u2019s app the permission the message names (and an admin\u2019s consent), then execute again.',
      });
    }
    throw failure;
  }
}

// What executing does, said before it starts: `resume` when an earlier execution stopped.
function ExecuteDialog({ plan, items, providerName, resume, onExecuted, onClose }) {
  const left = resume ? plan.execution.items - plan.execution.done : plan.summary.toRemove;
  const days = undoDays(items);
  const where = providerName ? `at ${providerName}` : 'at the provider';
  return html`
    <${ConfirmDialog} id="execute-plan" title=${resume ? `Execute plan ${plan.id} again?` : `Execute plan ${plan.id}?`}
      confirmLabel=${resume ? 'Execute again' : 'Execute'} busyLabel="Starting…" errorTitle="The plan was not executed"
      onConfirm=${async () => onExecuted(await execute(plan.id))} onClose=${onClose}>
      <p>${resume ? `It goes on where the last execution stopped and removes up to ${formatNumber(left)} more` : `It removes up to ${formatNumber(left)}`}
        ${left === 1 ? ' license' : ' licenses'} ${where}, one user at a time, after a sync under way there.</p>
      <p>Each user is checked again first: one who signed in, was enabled again or no longer holds the license is skipped.
        ${plan.summary.manual ? ` The ${formatNumber(plan.summary.manual)} ${plan.summary.manual === 1 ? 'license' : 'licenses'} for a person to handle stay as they are.` : ''}</p>
      <p>A removed license can be put back with Undo ${days !== null ? `for ${formatNumber(days)} ${days === 1 ? 'day' : 'days'}` : 'for a while after (30 days by default)'}.</p>
    </${ConfirmDialog}>`;
}

// Approve, execute and cancel, for admins, each after a confirmation.
function Decisions({ plan, items, providerName, onChanged }) {
  const admin = useIsAdmin();
  const [asking, setAsking] = useState(null);
  if (!admin || plan.status === 'CANCELLED' || plan.status === 'EXECUTED') return null;
  const decide = async mutation => {
    const decided = (await graphql(`mutation Decide($id: ID!) { decided: ${mutation}(id: $id) { ${STATE} } }`, { id: plan.id })).decided;
    setAsking(null);
    onChanged(decided);
  };
  const running = isRunning(plan.execution);
  const neverRan = plan.execution.status === null;
  return html`
    ${plan.status === 'PENDING_APPROVAL' ? html`<button type="button" onClick=${() => setAsking('approve')}>Approve</button>` : null}
    ${plan.status === 'APPROVED' && neverRan ? html`<button type="button" onClick=${() => setAsking('execute')}>Execute…</button>` : null}
    <button type="button" class="secondary" onClick=${() => setAsking('cancel')}>Cancel plan</button>
    ${asking === 'approve' ? html`
      <${ConfirmDialog} id="approve-plan" title=${`Approve plan ${plan.id}?`} confirmLabel="Approve" busyLabel="Approving…"
        errorTitle="The plan was not approved" onConfirm=${() => decide('approveReclaimPlan')} onClose=${() => setAsking(null)}>
        <p>It removes ${formatNumber(plan.summary.toRemove)} directly assigned licenses when it runs; the ${formatNumber(plan.summary.manual)} others stay for a person to handle.
          Nothing changes at the provider until the plan runs.</p>
      </${ConfirmDialog}>` : null}
    ${asking === 'execute' ? html`
      <${ExecuteDialog} plan=${plan} items=${items} providerName=${providerName}
        onExecuted=${executed => { setAsking(null); onChanged(executed); }} onClose=${() => setAsking(null)} />` : null}
    ${asking === 'cancel' ? html`
      <${ConfirmDialog} id="cancel-plan" title=${`Cancel plan ${plan.id}?`} confirmLabel="Cancel plan" busyLabel="Cancelling…"
        errorTitle="The plan was not cancelled" onConfirm=${() => decide('cancelReclaimPlan')} onClose=${() => setAsking(null)}>
        ${!neverRan
          ? html`<p>Its execution ${running ? 'stops at its next license' : 'never goes on'}. Licenses already removed stay removed; put them back with Undo below.</p>`
          : html`<p>A cancelled plan never runs. Make a new one from the Waste page when needed.</p>`}
      </${ConfirmDialog}>` : null}`;
}

// Where the execution stands: followed live over `reclaimPlanUpdated` while it runs (each
// state goes to `onChanged`), then its counts by outcome, and what stopped it with a way to go on.
function Execution({ plan, items, providerName, onChanged }) {
  const admin = useIsAdmin();
  const { execution } = plan;
  const running = isRunning(execution);
  const [failure, setFailure] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const [resuming, setResuming] = useState(false);
  const changed = useRef(onChanged);
  changed.current = onChanged;
  const followed = running ? execution.runId : null;

  useEffect(() => {
    if (!followed) return undefined;
    setFailure(null);
    return subscribe(UPDATED, { id: plan.id }, {
      onData: data => changed.current(data.reclaimPlanUpdated),
      onError: setFailure,
    });
  }, [plan.id, followed, attempt]);

  if (execution.status === null) return null;
  const shown = EXECUTION_STATUS[execution.status] ?? { label: execution.status, tone: 'neutral' };
  const stopped = isStopped(plan);
  return html`
    <section class="live-run execution" aria-labelledby="execution-title" data-test="execution" data-status=${execution.status}>
      <div class="live-run-head">
        <h2 id="execution-title">${running ? 'Executing' : 'Execution'}</h2>
        <p class="live-run-status" role="status" aria-live="polite">
          <span data-test="execution-status"><${Shown} shown=${shown} /></span>
          <span class="muted" data-test="execution-done">${formatNumber(execution.done)} of ${formatNumber(execution.items)} licenses done</span>
          ${execution.attempt > 1 ? html`<span class="muted small">resumed by another worker (attempt ${execution.attempt})</span>` : null}
        </p>
      </div>
      <progress class="progress" max=${Math.max(execution.items, 1)} value=${execution.done}
        aria-label="Licenses done" aria-valuetext=${`${execution.done} of ${execution.items}`}></progress>
      ${execution.outcomes.length ? html`
        <dl class="run-figures" data-test="outcomes">
          ${execution.outcomes.map(count => html`
            <div data-test="outcome-count" data-code=${count.code}>
              <dt>${outcomeShown(count.code).label}</dt><dd>${formatNumber(count.items)}</dd>
            </div>`)}
        </dl>` : null}
      <p class="muted small">
        ${execution.startedAt ? `Started ${formatDateTime(execution.startedAt)}` : 'Waiting for a worker'}${execution.finishedAt ? `, ended ${formatDateTime(execution.finishedAt)}` : ''}.
      </p>
      <${ErrorBox} error=${failure} title="Live updates stopped" onRetry=${() => setAttempt(value => value + 1)} />
      ${execution.error && !running ? html`
        <div class=${execution.status === 'CANCELLED' ? 'notice' : 'error-box'} role=${execution.status === 'CANCELLED' ? 'note' : 'alert'} data-test="execution-error">
          <p><strong>${execution.status === 'CANCELLED' ? 'Stopped' : 'The execution failed'}:</strong> ${execution.error.message} <code class="code">${execution.error.code}</code></p>
          <p class="hint">${execution.error.hint}</p>
          ${stopped ? html`<p>The ${formatNumber(execution.items - execution.done)} licenses not done yet wait; executing again goes on with them.</p>` : null}
        </div>` : null}
      ${stopped && admin ? html`
        <div class="actions"><button type="button" onClick=${() => setResuming(true)}>Execute again…</button></div>` : null}
      ${resuming ? html`
        <${ExecuteDialog} plan=${plan} items=${items} providerName=${providerName} resume
          onExecuted=${executed => { setResuming(false); onChanged(executed); }} onClose=${() => setResuming(false)} />` : null}
    </section>`;
}

function OutcomeCell({ item }) {
  return html`
    ${item.outcome ? html`<${OutcomeBadge} outcome=${item.outcome} test="item-outcome" />` : html`<span class="muted">${item.action === 'REMOVE_DIRECT' ? 'waiting' : '—'}</span>`}
    ${item.undo ? html`
      <div class="undo-outcome">
        <span class="muted small">Undo: </span><${OutcomeBadge} outcome=${item.undo} test="item-undo" />
        ${item.undo.code === 'ADDED' && item.undoneBy ? html`<div class="muted small">by ${item.undoneBy}, ${formatDateTime(item.undo.at)}</div>` : null}
      </div>` : null}
    ${item.undoableUntil ? html`<div class="muted small">undo until ${formatDateTime(item.undoableUntil)}</div>` : null}`;
}

// A code as a readable badge; its message and what to do open beneath it.
function OutcomeBadge({ outcome, test }) {
  const shown = outcomeShown(outcome.code);
  return html`
    <details class="outcome" data-test=${test} data-code=${outcome.code}>
      <summary title=${outcome.message}><${Shown} shown=${shown} /></summary>
      <p class="small">${outcome.message} <code class="code">${outcome.code}</code></p>
      ${outcome.hint ? html`<p class="hint small">${outcome.hint}</p>` : null}
    </details>`;
}

function Items({ pages, outcomes }) {
  const admin = useIsAdmin();
  const [selected, setSelected] = useState(() => new Set());
  // Items as undoReclaim last gave them back, newer than the page's.
  const [undone, setUndone] = useState(() => new Map());
  const [asking, setAsking] = useState(false);
  const [result, setResult] = useState(null);
  const nodes = pages.nodes.map(item => undone.get(item.id) ?? { ...item, ...outcomes.get(item.id) });
  const now = Date.now();
  const undoable = admin ? nodes.filter(item => item.undoableUntil && new Date(item.undoableUntil).getTime() > now) : [];
  const chosen = undoable.filter(item => selected.has(item.id));
  const toggle = id => setSelected(previous => {
    const next = new Set(previous);
    if (!next.delete(id)) next.add(id);
    return next;
  });
  const allChosen = undoable.length > 0 && chosen.length === undoable.length;

  const undo = async () => {
    const back = [];
    for (let at = 0; at < chosen.length; at += UNDO_BATCH) {
      const ids = chosen.slice(at, at + UNDO_BATCH).map(item => item.id);
      back.push(...(await graphql(UNDO, { ids })).undoReclaim);
    }
    setUndone(previous => new Map([...previous, ...back.map(item => [item.id, item])]));
    setSelected(new Set());
    setAsking(false);
    const added = back.filter(item => item.undo?.code === 'ADDED').length;
    setResult({ added, failed: back.length - added });
  };

  return html`
    <h2 id="plan-items-title">Licenses</h2>
    ${undoable.length ? html`
      <div class="undo-bar">
        <p class="muted">Removed licenses can be put back until the date each shows. ${formatNumber(chosen.length)} selected.</p>
        <button type="button" class="secondary" disabled=${chosen.length === 0} onClick=${() => { setResult(null); setAsking(true); }}>Undo selected…</button>
      </div>` : null}
    <div role="status" aria-live="polite" data-test="undo-result">
      ${result ? html`<p>${formatNumber(result.added)} ${result.added === 1 ? 'license' : 'licenses'} put back${result.failed
        ? html`; <strong>${formatNumber(result.failed)} not</strong>: each says why below, and can be undone again once that is fixed` : ''}.</p>` : null}
    </div>
    ${asking ? html`
      <${ConfirmDialog} id="undo-items" title=${`Put ${chosen.length === 1 ? '1 license' : `${formatNumber(chosen.length)} licenses`} back?`}
        confirmLabel="Undo" busyLabel="Putting back…" errorTitle="Nothing was put back" onConfirm=${undo} onClose=${() => setAsking(false)}>
        <p>Each user gets the license again, assigned directly, with the service plans it had switched off.</p>
        <p>Where its seat went to someone else meanwhile, or the user cannot hold it, that license says why and stays removed.</p>
      </${ConfirmDialog}>` : null}
    ${pages.loading ? html`<${Loading} />` : null}
    ${pages.error && !pages.loaded ? html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />` : null}
    ${nodes.length ? html`
      <div class="table-wrap">
        <table class="plan-items" aria-labelledby="plan-items-title">
          <caption class="visually-hidden">The plan's licenses, by user, with what execution did to each</caption>
          <thead><tr>
            ${undoable.length ? html`<th scope="col" class="select">
              <input type="checkbox" aria-label="Select every license that can be put back" checked=${allChosen}
                onChange=${() => setSelected(allChosen ? new Set() : new Set(undoable.map(item => item.id)))} /></th>` : null}
            <th scope="col">User</th><th scope="col">License</th><th scope="col">Action</th>
            <th scope="col">Outcome</th>
            <th scope="col">Evidence</th><th scope="col" class="number">Per month</th>
          </tr></thead>
          <tbody>${nodes.map(item => html`
            <tr key=${item.id} data-test="plan-item" data-item-id=${item.id} data-action=${item.action} data-reason=${item.manualReason ?? ''}
              data-outcome=${item.outcome?.code ?? ''} data-undo=${item.undo?.code ?? ''}>
              ${undoable.length ? html`<td class="select">
                ${undoable.includes(item) ? html`<input type="checkbox" checked=${selected.has(item.id)} onChange=${() => toggle(item.id)}
                  aria-label=${`Put back ${item.skuDisplayName} for ${item.userPrincipalName}`} />` : null}</td>` : null}
              <td class="user">${item.userPrincipalName}</td>
              <td>${item.skuDisplayName}</td>
              <td>
                ${item.action === 'REMOVE_DIRECT'
                  ? html`<${Badge} tone="good">remove from user</${Badge}>`
                  : html`<${Badge} tone="warn">manual</${Badge}>
                      <div class="small">${item.manualExplanation ?? item.manualReason}</div>
                      ${item.groups.length ? html`<div class="muted small" data-test="item-groups">Groups: ${item.groups.map(group => group.displayName ?? group.id).join(', ')}</div>` : null}`}
              </td>
              <td class="outcome-cell"><${OutcomeCell} item=${item} /></td>
              <td class="evidence small">${item.evidence}</td>
              <td class="number">${item.monthlySaving ? formatMoney(item.monthlySaving) : html`<span class="muted">—</span>`}</td>
            </tr>`)}
          </tbody>
        </table>
      </div>
      <${LoadMore} pages=${pages} />` : null}`;
}
