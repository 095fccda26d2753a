// Building blocks every page shares: data loading, the loading / empty / error states, form
// fields with their errors, and the formats of dates, counts and money.

import { html, useCallback, useEffect, useRef, useState, createContext, useContext } from '../vendor/htm-preact.js';
import { ApiError, graphql, hintFor } from './api.js';

// Who is signed in: `{ subject, role }`, role being VIEWER or ADMIN.
export const ViewerContext = createContext(null);

export function useViewer() {
  return useContext(ViewerContext);
}

export function useIsAdmin() {
  return useViewer()?.role === 'ADMIN';
}

// Runs `query` whenever `key` (a string of what the query depends on) changes. Gives the
// latest data, the error, whether it is loading, and `reload`. An answer that arrives after a
// newer request started is dropped, so that fast typing never shows stale results.
export function useQuery(query, variables, key = JSON.stringify(variables ?? {})) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState(previous => ({ ...previous, loading: true }));
    graphql(query, variables).then(
      data => mine === generation.current && setState({ data, error: null, loading: false }),
      error => mine === generation.current && setState(previous => ({ data: previous.data, error, loading: false })),
    );
  }, [query, key]);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

// Sets the tab's title and shows the page's heading with its actions; `above` goes over the
// heading (the tabs of a section's pages).
export function Page({ title, actions, above, children }) {
  useEffect(() => { document.title = `${title} · license-manager`; }, [title]);
  return html`
    <section class="page">
      ${above}
      <header class="page-header">
        <h1>${title}</h1>
        ${actions ? html`<div class="actions">${actions}</div>` : null}
      </header>
      ${children}
    </section>`;
}

export function Loading({ label = 'Loading…' }) {
  return html`<p class="loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${label}</p>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

// An error with its code, what to do about it, and a way to try again.
export function ErrorBox({ error, onRetry, title = 'Something went wrong' }) {
  if (!error) return null;
  const hint = error instanceof ApiError || error.code ? hintFor(error) : null;
  return html`
    <div class="error-box" role="alert">
      <p><strong>${title}:</strong> ${error.message}${error.code ? html` <code class="code">${error.code}</code>` : null}</p>
      ${hint ? html`<p class="hint">${hint}</p>` : null}
      ${onRetry ? html`<button type="button" class="secondary" onClick=${onRetry}>Try again</button>` : null}
    </div>`;
}

// A labelled control with its help text and its error, announced to screen readers.
export function Field({ id, label, error, help, children }) {
  const describedBy = [help ? `${id}-help` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return html`
    <div class=${`field${error ? ' invalid' : ''}`}>
      <label for=${id}>${label}</label>
      ${typeof children === 'function' ? children({ id, 'aria-describedby': describedBy, 'aria-invalid': error ? 'true' : undefined }) : children}
      ${help ? html`<p class="help" id=${`${id}-help`}>${help}</p>` : null}
      ${error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : null}
    </div>`;
}

// A modal confirmation of something that cannot be undone. Escape or Cancel close it; focus
// starts on Cancel, the safe choice. `onConfirm` does the deed: while it runs the buttons wait,
// and if it throws, its error shows in the dialog, which stays open.
export function ConfirmDialog({ id, title, confirmLabel, busyLabel, errorTitle, onConfirm, onClose, children }) {
  const dialog = useRef(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    const element = dialog.current;
    element.showModal();
    element.querySelector('[data-autofocus]')?.focus();
    return () => { if (element.open) element.close(); };
  }, []);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError({ message: String(failure) }));
      setBusy(false);
    }
  };

  const titleId = `${id}-title`;
  return html`
    <dialog ref=${dialog} class="confirm" aria-labelledby=${titleId} onClose=${onClose}>
      <h2 id=${titleId}>${title}</h2>
      ${children}
      <${ErrorBox} error=${error} title=${errorTitle} />
      <div class="actions">
        <button type="button" class="danger" disabled=${busy} onClick=${confirm}>${busy ? busyLabel : confirmLabel}</button>
        <button type="button" class="secondary" data-autofocus onClick=${onClose}>Cancel</button>
      </div>
    </dialog>`;
}

export function Badge({ tone = 'neutral', children }) {
  return html`<span class=${`badge ${tone}`}>${children}</span>`;
}

const numberFormat = new Intl.NumberFormat();

export function formatNumber(value) {
  return value === null || value === undefined ? '—' : numberFormat.format(value);
}

export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '—';
}

export function formatDateTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';
}

// Whole days from now until `iso` (negative in the past).
export function daysUntil(iso) {
  return Math.floor((new Date(iso).getTime() - Date.now()) / 86_400_000);
}

// A decimal string in its currency, e.g. "1,234.50 EUR". The amount is not turned into a
// float's approximation: only its integer part is grouped.
export function formatMoney(money) {
  if (!money) return '—';
  const [whole, fraction] = String(money.amount).split('.');
  const grouped = numberFormat.format(BigInt(whole));
  return `${grouped}${fraction ? `.${fraction}` : ''} ${money.currency}`;
}

// Sums per currency, e.g. "1,200.00 EUR + 80.00 USD"; "—" when there is none.
export function formatCosts(costs) {
  return costs && costs.length ? costs.map(formatMoney).join(' + ') : '—';
}
