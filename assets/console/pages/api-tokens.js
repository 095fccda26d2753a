// Settings → API tokens (admins only): the tokens scripts call the API with. Creating one shows
// its secret this once, with a request to try it; revoking one stops it at its next request.
// The list is the API's, newest first, revoked and expired tokens too.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { graphql } from '../lib/api.js';
import { usePages } from '../lib/paging.js';
import { SettingsTabs } from '../lib/settings.js';
import {
  Badge, ConfirmDialog, Empty, ErrorBox, Field, Loading, Page, formatDate, formatDateTime, formatNumber, useIsAdmin, useViewer,
} from '../lib/ui.js';

const PATH = '/settings/api-tokens';
const PAGE = 50;
const TOKEN_FIELDS = 'id name role creator createdAt expiresAt lastUsedAt revokedAt';

const TOKENS = `query ApiTokens($first: Int, $after: String) {
  apiTokens(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { ${TOKEN_FIELDS} }
  }
}`;
const CREATE = `mutation CreateApiToken($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { ${TOKEN_FIELDS} } }
}`;
const REVOKE = `mutation RevokeApiToken($id: ID!) { revokeApiToken(id: $id) { ${TOKEN_FIELDS} } }`;

export default function ApiTokens() {
  const isAdmin = useIsAdmin();
  const pages = usePages(TOKENS, { first: PAGE }, data => data.apiTokens);
  // Revocations answered by the server, shown in their rows without reloading the list.
  const [revoked, setRevoked] = useState({});
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState(null);
  const [message, setMessage] = useState(null);
  const messageRef = useRef(null);
  useEffect(() => { if (message) messageRef.current?.focus(); }, [message]);

  const create = () => {
    setMessage(null);
    setCreated(null);
    setCreating(true);
  };
  const onCreated = answer => {
    setCreating(false);
    setCreated(answer);
    pages.reload();
  };
  const onRevoked = token => {
    setRevoked(current => ({ ...current, [token.id]: token }));
    setMessage(`“${token.name}” is revoked: a request with it is refused from now on, on every server.`);
  };

  const forbidden = pages.error?.code === 'FORBIDDEN';
  const tokens = pages.nodes.map(token => revoked[token.id] ?? token);
  const actions = isAdmin && !forbidden && !creating && pages.loaded && tokens.length
    ? html`<button type="button" onClick=${create}>Create token</button>` : null;
  return html`
    <${Page} title="API tokens" actions=${actions} above=${html`<${SettingsTabs} current=${PATH} />`}>
      <p class="muted page-intro">Settings · Tokens for scripts and integrations that call the API for months:
        each is revoked on its own and listed with its last use. People sign in to the console instead.</p>
      ${forbidden ? html`<${AdminsOnly} error=${pages.error} />` : html`
        ${message ? html`<div class="success" role="status" tabindex="-1" ref=${messageRef}><p>${message}</p></div>` : null}
        ${created ? html`<${NewToken} created=${created} onDone=${() => setCreated(null)} />` : null}
        ${creating ? html`
          <section class="panel" aria-labelledby="create-token-heading">
            <h2 id="create-token-heading">Create an API token</h2>
            <${TokenForm} onCreated=${onCreated} onCancel=${() => setCreating(false)} />
          </section>` : null}
        <${TokenList} pages=${pages} tokens=${tokens} creating=${creating} onCreate=${create} onRevoked=${onRevoked} />`}
    </${Page}>`;
}

// A viewer who follows a link here: the API's refusal, and what to do instead.
function AdminsOnly({ error }) {
  const viewer = useViewer();
  return html`
    <div class="notice" role="note" data-test="admins-only">
      <p><strong>API tokens are for admins only.</strong></p>
      <p>You are signed in as <strong>${viewer?.subject}</strong> with the ${viewer?.role === 'ADMIN' ? 'admin' : 'viewer'} role. Ask an admin to create a token for your script.</p>
      <p class="small">The server answered: ${error.message} <code class="code">${error.code}</code></p>
    </div>`;
}

function TokenList({ pages, tokens, creating, onCreate, onRevoked }) {
  const [revoking, setRevoking] = useState(null);
  if (pages.loading) return html`<${Loading} label="Loading the API tokens…" />`;
  if (pages.error && !pages.loaded) return html`<${ErrorBox} error=${pages.error} onRetry=${pages.retry} />`;
  if (tokens.length === 0) {
    return creating ? null : html`
      <${Empty}>
        <h2>No API token yet</h2>
        <p>Give each script its own token, named after it, with the shortest expiry it can live with,
          and revoke it when the script goes.</p>
        <p><button type="button" onClick=${onCreate}>Create token</button></p>
      </${Empty}>`;
  }
  return html`
    <div class="table-wrap">
      <table class="api-tokens">
        <caption class="visually-hidden">API tokens, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Created by</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
            <th scope="col"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>${tokens.map(token => html`<${TokenRow} key=${token.id} token=${token} onRevoke=${() => setRevoking(token)} />`)}</tbody>
      </table>
    </div>
    <div class="pager">
      <span class="muted" role="status">${formatNumber(tokens.length)} ${tokens.length === 1 ? 'token' : 'tokens'} shown</span>
      ${pages.hasNextPage ? html`
        <button type="button" class="secondary" onClick=${pages.loadMore} disabled=${pages.loadingMore}>
          ${pages.loadingMore ? 'Loading…' : 'Load more'}
        </button>` : null}
    </div>
    ${pages.error ? html`<${ErrorBox} title="Older tokens could not be loaded" error=${pages.error} onRetry=${pages.retry} />` : null}
    ${revoking ? html`
      <${RevokeDialog} token=${revoking} onClose=${() => setRevoking(null)}
        onRevoked=${token => { setRevoking(null); onRevoked(token); }} />` : null}`;
}

function isExpired(token) {
  return new Date(token.expiresAt).getTime() <= Date.now();
}

function TokenStatus({ token }) {
  if (token.revokedAt) return html`<${Badge} tone="bad">Revoked ${formatDate(token.revokedAt)}</${Badge}>`;
  if (isExpired(token)) return html`<${Badge} tone="warn">Expired</${Badge}>`;
  return html`<${Badge} tone="good">Active</${Badge}>`;
}

function TokenRow({ token, onRevoke }) {
  const state = token.revokedAt ? 'revoked' : isExpired(token) ? 'expired' : 'active';
  return html`
    <tr data-test="api-token" data-token-id=${token.id} data-state=${state} class=${state === 'active' ? '' : 'inactive'}>
      <td data-label="Name" class="name"><strong>${token.name}</strong></td>
      <td data-label="Role">${token.role === 'ADMIN' ? 'admin' : 'viewer'}</td>
      <td data-label="Created by" class="creator">${token.creator}</td>
      <td data-label="Created"><time datetime=${token.createdAt}>${formatDateTime(token.createdAt)}</time></td>
      <td data-label=${isExpired(token) ? 'Expired' : 'Expires'}>
        <time datetime=${token.expiresAt}>${formatDate(token.expiresAt)}</time>
        ${isExpired(token) ? html` <span class="muted">(expired)</span>` : null}
      </td>
      <td data-label="Last used">${token.lastUsedAt
        ? html`<time datetime=${token.lastUsedAt}>${formatDateTime(token.lastUsedAt)}</time>`
        : html`<span class="muted">never</span>`}</td>
      <td data-label="Status" data-test="token-status"><${TokenStatus} token=${token} /></td>
      <td class="row-actions">${state === 'active' ? html`
        <button type="button" class="secondary danger-text" aria-label=${`Revoke ${token.name}`} onClick=${onRevoke}>Revoke</button>` : null}</td>
    </tr>`;
}

function RevokeDialog({ token, onClose, onRevoked }) {
  const revoke = async () => onRevoked((await graphql(REVOKE, { id: token.id })).revokeApiToken);
  return html`
    <${ConfirmDialog} id=${`revoke-${token.id}`} title=${`Revoke “${token.name}”?`}
      confirmLabel="Revoke token" busyLabel="Revoking…" errorTitle="Not revoked"
      onConfirm=${revoke} onClose=${onClose}>
      <p>Every script that sends this token is refused from its next request on, on every server
        (HTTP 401, <code>UNAUTHENTICATED</code>). ${token.lastUsedAt
          ? `It was last used ${formatDateTime(token.lastUsedAt)}.` : 'It has never been used.'}</p>
      <p>This cannot be undone: to let a script in again, create a new token and give it that one.
        The audit log keeps a record of the revocation.</p>
    </${ConfirmDialog}>`;
}

// The form's values as typed, so that a refusal loses nothing.
const EMPTY = { name: '', role: 'VIEWER', expiresInDays: '' };

const ROLES = [
  ['VIEWER', 'Viewer: reads everything, changes nothing'],
  ['ADMIN', 'Admin: also changes providers, prices, syncs and tokens'],
];

// Whole days, null for the server's default, or undefined when it is not a whole number.
function days(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  return /^\d{1,9}$/.test(trimmed) ? Number(trimmed) : undefined;
}

const CREATE_HINTS = {
  CONFLICT: 'This server allows only so many active tokens at once (LM_MAX_API_TOKENS). Revoke one that is no longer used, in the list below, then press Create token again: what you typed is kept.',
};
const FIELDS = ['name', 'role', 'expiresInDays'];

function TokenForm({ onCreated, onCancel }) {
  const [values, setValues] = useState(EMPTY);
  const [error, setError] = useState(null);
  const [localErrors, setLocalErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const form = useRef(null);
  useEffect(() => { form.current?.querySelector('input')?.focus(); }, []);
  // After a refusal, focus goes to the first field to fix.
  useEffect(() => { form.current?.querySelector('[aria-invalid="true"]')?.focus(); }, [error, localErrors]);

  const set = name => event => setValues(previous => ({ ...previous, [name]: event.target.value }));
  const fieldError = name => localErrors[name] ?? error?.fieldMessage?.(name);

  const submit = async event => {
    event.preventDefault();
    const expiresInDays = days(values.expiresInDays);
    const local = expiresInDays === undefined ? { expiresInDays: 'Enter a whole number of days, e.g. 90, or leave it empty.' } : {};
    setLocalErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    setError(null);
    try {
      const data = await graphql(CREATE, { input: { name: values.name, role: values.role, expiresInDays } });
      onCreated(data.createApiToken);
    } catch (failure) {
      if (CREATE_HINTS[failure.code]) failure.hint = CREATE_HINTS[failure.code];
      setError(failure);
      setBusy(false);
    }
  };

  const onlyFieldErrors = error?.code === 'BAD_USER_INPUT' && error.fields.length > 0
    && error.fields.every(entry => FIELDS.includes(entry.field));
  return html`
    <form ref=${form} class="token-form" onSubmit=${submit} novalidate aria-label="Create an API token">
      <${Field} id="token-name" label="Name" error=${fieldError('name')}
        help="What the token is for, e.g. nightly-export: name it after the script that uses it. One line, up to 100 characters.">
        ${attributes => html`<input ...${attributes} type="text" required autocomplete="off" spellcheck="false"
          value=${values.name} onInput=${set('name')} />`}
      </${Field}>
      <${Field} id="token-role" label="Role" error=${fieldError('role')}
        help="Give a script the viewer role unless it must change settings.">
        ${attributes => html`<select ...${attributes} value=${values.role} onChange=${set('role')}>
          ${ROLES.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>`}
      </${Field}>
      <${Field} id="token-expires" label="Expires in days" error=${fieldError('expiresInDays')}
        help="From 1 to the server's maximum token lifetime, 400 days unless LM_TOKEN_MAX_TTL sets another. Empty: 90 days, or that maximum when it is shorter.">
        ${attributes => html`<input ...${attributes} type="text" inputmode="numeric" autocomplete="off" placeholder="90"
          value=${values.expiresInDays} onInput=${set('expiresInDays')} />`}
      </${Field}>
      ${error && onlyFieldErrors
        ? html`<p class="field-error" role="alert">The server refused some fields: see the messages next to them.</p>`
        : html`<${ErrorBox} error=${error} title="Token not created" />`}
      <div class="actions">
        <button type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create token'}</button>
        <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      </div>
    </form>`;
}

// The request a script would send, ready to paste into a shell.
function example(token) {
  const endpoint = new URL('/graphql', window.location.href).href;
  return [
    `curl -s ${endpoint} \\`,
    "  -H 'content-type: application/json' \\",
    `  -H "Authorization: Bearer ${token}" \\`,
    `  -d '{"query":"{ viewer { subject role } }"}'`,
  ].join('\n');
}

// The new token's secret, shown this once.
function NewToken({ created, onDone }) {
  const { token, apiToken } = created;
  return html`
    <section class="panel new-token" aria-labelledby="new-token-heading" data-test="new-token">
      <h2 id="new-token-heading">“${apiToken.name}” is created</h2>
      <div class="notice">
        <p><strong>Copy the token now: you will not see it again.</strong> The server keeps only a hash of it,
          so no one can show it to you later. If it is lost, revoke it and create another.</p>
      </div>
      <${CopyField} id="new-token-value" label="Token" copyLabel="Copy the token" value=${token} autofocus
        help=${`${apiToken.role === 'ADMIN' ? 'Admin' : 'Viewer'} role, expires ${formatDate(apiToken.expiresAt)}. Scripts send it as Authorization: Bearer followed by the token.`} />
      <${CopyField} id="new-token-example" label="Try it: ask the API who this token is" copyLabel="Copy the example"
        value=${example(token)} multiline
        help="It answers with the subject apitoken:<id> and the token's role." />
      <div class="actions">
        <button type="button" class="secondary" onClick=${onDone}>Done, I have copied it</button>
      </div>
    </section>`;
}

// A read-only control and a Copy button. Where the browser refuses the clipboard (a page over
// plain HTTP on another host than localhost), the text is selected for Ctrl+C instead.
function CopyField({ id, label, copyLabel, value, help, multiline = false, autofocus = false }) {
  const control = useRef(null);
  const [copied, setCopied] = useState(null);
  useEffect(() => {
    if (!autofocus) return;
    control.current?.focus();
    control.current?.select();
  }, []);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('Copied.');
    } catch (refused) {
      control.current?.focus();
      control.current?.select();
      setCopied(document.execCommand('copy') ? 'Copied.' : 'Selected: press Ctrl+C (⌘C) to copy.');
    }
  };

  return html`
    <${Field} id=${id} label=${label} help=${help}>
      ${attributes => html`
        <div class="copy-row">
          ${multiline
            ? html`<textarea ...${attributes} ref=${control} readonly rows="4" spellcheck="false" value=${value}></textarea>`
            : html`<input ...${attributes} ref=${control} type="text" readonly spellcheck="false" value=${value} />`}
          <button type="button" class="secondary" aria-label=${copyLabel} onClick=${copy}>Copy</button>
        </div>
        <p class="copied" role="status">${copied}</p>`}
    </${Field}>`;
}
