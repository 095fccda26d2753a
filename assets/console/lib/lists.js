// What the pages that list things share: a search box that waits for a pause in typing, a
// keyset pager whose cursors live in the query string, and dates told relative to today.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { download } from './api.js';
import { ErrorBox, daysUntil, formatDate } from './ui.js';

// Typing waits this long before the list is asked again: one request per pause, not per key.
const SEARCH_DELAY_MS = 300;

// A search field that reports its text after a pause in typing (Enter reports at once). It
// follows `value` when the address changes under it (back, a link).
export function SearchBox({ id, label, value, onSearch, placeholder }) {
  const [text, setText] = useState(value);
  const timer = useRef(null);
  const report = useRef(onSearch);
  report.current = onSearch;
  useEffect(() => setText(value), [value]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const flush = next => {
    clearTimeout(timer.current);
    if (next !== value) report.current(next);
  };
  const onInput = event => {
    const next = event.target.value;
    setText(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => report.current(next), SEARCH_DELAY_MS);
  };
  const onKeyDown = event => {
    if (event.key === 'Enter') {
      event.preventDefault();
      flush(event.target.value);
    }
  };
  return html`
    <div class="field search">
      <label for=${id}>${label}</label>
      <input id=${id} type="search" value=${text} onInput=${onInput} onKeyDown=${onKeyDown}
        placeholder=${placeholder} autocomplete="off" spellcheck="false" maxlength="256" />
    </div>`;
}

// The page of a keyset connection the query string asks for: `after` pages forward, `before`
// backward, neither is the first page.
export function pageVariables(query, size) {
  const after = query.get('after');
  const before = query.get('before');
  if (before) return { last: size, before };
  return after ? { first: size, after } : { first: size };
}

// First / previous / next for a connection's `pageInfo`; `go` gets the cursor to put in the
// query string: `{ after }`, `{ before }` or `{}` for the first page.
export function Pager({ pageInfo, label, go, busy }) {
  if (!pageInfo || (!pageInfo.hasPreviousPage && !pageInfo.hasNextPage)) return null;
  return html`
    <nav class="pager" aria-label=${label}>
      <button type="button" class="secondary" disabled=${busy || !pageInfo.hasPreviousPage} onClick=${() => go({})}>First page</button>
      <button type="button" class="secondary" disabled=${busy || !pageInfo.hasPreviousPage}
        onClick=${() => go({ before: pageInfo.startCursor })}>Previous page</button>
      <button type="button" class="secondary" disabled=${busy || !pageInfo.hasNextPage}
        onClick=${() => go({ after: pageInfo.endCursor })}>Next page</button>
    </nav>`;
}

// "in 12 days", "today", "3 days ago".
export function relativeDays(iso) {
  const days = daysUntil(iso);
  if (days === 0) return 'today';
  if (days === 1) return 'tomorrow';
  if (days === -1) return 'yesterday';
  return days > 0 ? `in ${days} days` : `${-days} days ago`;
}

// A date with how long ago (or until) it is, e.g. "Mar 3, 2025 (12 days ago)".
export function DateWithAge({ iso }) {
  if (!iso) return '—';
  return html`<time datetime=${iso}>${formatDate(iso)}</time> <span class="muted">(${relativeDays(iso)})</span>`;
}

// Tri-state filters travel as "true" / "false" in the query string; anything else is "any".
export function booleanParam(query, name) {
  const value = query.get(name);
  return value === 'true' ? true : value === 'false' ? false : undefined;
}

// A select of "Any / yes / no" for a tri-state filter.
export function YesNoAny({ id, label, value, onChange, yes = 'Yes', no = 'No' }) {
  return html`
    <div class="field">
      <label for=${id}>${label}</label>
      <select id=${id} value=${value ?? ''} onChange=${event => onChange(event.target.value)}>
        <option value="">Any</option>
        <option value="true">${yes}</option>
        <option value="false">${no}</option>
      </select>
    </div>`;
}

// A button that downloads a CSV export with the page's filters (`params`), telling a failure.
export function ExportButton({ label, path, params, filename }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      await download(path, params, filename);
    } catch (failed) {
      setError(failed);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <button type="button" class="secondary" onClick=${start} disabled=${busy}>${busy ? 'Exporting…' : label}</button>
    ${error ? html`<${ErrorBox} error=${error} title="The export failed" />` : null}`;
}
