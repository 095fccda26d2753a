// Adding a Microsoft 365 provider, and editing one: one form for both. What the app
// registration needs (its permissions, the setup guide) comes from the API's `providerKinds`.

import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { graphql } from '../lib/api.js';
import { Badge, ErrorBox, Field, Loading, useQuery } from '../lib/ui.js';

export const PROVIDER_FIELDS = `
  id kind name tenantId clientId cloud clientSecretHint clientSecretExpiresAt clientSecretStatus
  clientSecretReadable enabled syncIntervalMinutes userCount`;

export const CLOUDS = [
  ['GLOBAL', 'Global (also Microsoft 365 GCC)'],
  ['US_GOV', 'US Government (GCC High)'],
  ['US_GOV_DOD', 'US Government (DoD)'],
  ['CHINA', 'China (21Vianet)'],
];

export function cloudLabel(cloud) {
  return CLOUDS.find(([value]) => value === cloud)?.[1] ?? cloud;
}

const CREATE = `mutation CreateProvider($input: CreateMicrosoftProviderInput!) {
  createMicrosoftProvider(input: $input) { ${PROVIDER_FIELDS} }
}`;
const UPDATE = `mutation UpdateProvider($id: ID!, $input: UpdateMicrosoftProviderInput!) {
  updateMicrosoftProvider(id: $id, input: $input) { ${PROVIDER_FIELDS} }
}`;

// The form's values, as typed: strings (and `enabled`), so nothing is lost or reformatted.
function initialValues(provider) {
  return {
    name: provider?.name ?? '',
    tenantId: provider?.tenantId ?? '',
    clientId: provider?.clientId ?? '',
    clientSecret: '',
    cloud: provider?.cloud ?? 'GLOBAL',
    clientSecretExpiresAt: provider?.clientSecretExpiresAt?.slice(0, 10) ?? '',
    syncIntervalMinutes: provider?.syncIntervalMinutes == null ? '' : String(provider.syncIntervalMinutes),
    enabled: provider?.enabled ?? true,
  };
}

// The expiry is entered as a date; it is stored as that day's start, UTC, as Entra shows it.
function expiry(date) {
  return date ? `${date}T00:00:00Z` : null;
}

// Whole minutes, null for "manual only", or undefined when it is not a number at all.
function interval(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

function createInput(values) {
  return {
    name: values.name,
    tenantId: values.tenantId,
    clientId: values.clientId,
    clientSecret: values.clientSecret,
    cloud: values.cloud,
    clientSecretExpiresAt: expiry(values.clientSecretExpiresAt),
    syncIntervalMinutes: interval(values.syncIntervalMinutes),
  };
}

// Only what changed: the audit trail then names the fields an admin really changed, and an
// empty secret keeps the stored one.
function updateInput(values, initial) {
  const input = {};
  if (values.name !== initial.name) input.name = values.name;
  if (values.clientSecret) input.clientSecret = values.clientSecret;
  if (values.cloud !== initial.cloud) input.cloud = values.cloud;
  if (values.clientSecretExpiresAt !== initial.clientSecretExpiresAt) input.clientSecretExpiresAt = expiry(values.clientSecretExpiresAt);
  if (values.syncIntervalMinutes.trim() !== initial.syncIntervalMinutes) input.syncIntervalMinutes = interval(values.syncIntervalMinutes);
  if (values.enabled !== initial.enabled) input.enabled = values.enabled;
  return input;
}

const HINTS = {
  CONFLICT: 'A provider for this tenant and client ID already exists: edit that one, or use another app registration.',
};

// `provider` absent: the Add form. `onSaved(provider)` after the server accepted it.
export function ProviderForm({ provider, onSaved, onCancel }) {
  const editing = Boolean(provider);
  const prefix = editing ? `edit-${provider.id}` : 'add';
  const [initial] = useState(() => initialValues(provider));
  const [values, setValues] = useState(initial);
  const [error, setError] = useState(null);
  const [localErrors, setLocalErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { first.current?.focus(); }, []);

  const set = name => event => {
    const value = event.target.type === 'checkbox' ? event.target.checked : event.target.value;
    setValues(previous => ({ ...previous, [name]: value }));
  };
  const fieldError = name => localErrors[name] ?? error?.fieldMessage?.(name);

  const submit = async event => {
    event.preventDefault();
    const local = interval(values.syncIntervalMinutes) === undefined
      ? { syncIntervalMinutes: 'Enter whole minutes (15 to 10080), or leave it empty for manual syncs only.' } : {};
    setLocalErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    setError(null);
    try {
      const data = editing
        ? await graphql(UPDATE, { id: provider.id, input: updateInput(values, initial) })
        : await graphql(CREATE, { input: createInput(values) });
      onSaved(editing ? data.updateMicrosoftProvider : data.createMicrosoftProvider);
    } catch (failure) {
      if (HINTS[failure.code] && !editing) failure.hint = HINTS[failure.code];
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const known = ['name', 'tenantId', 'clientId', 'clientSecret', 'syncIntervalMinutes'];
  const onlyFieldErrors = error?.code === 'BAD_USER_INPUT' && error.fields.length > 0
    && error.fields.every(entry => known.includes(entry.field));
  const id = name => `${prefix}-${name}`;

  return html`
    <form class="provider-form" onSubmit=${submit} novalidate aria-label=${editing ? `Edit ${provider.name}` : 'Add Microsoft 365'}>
      <${Field} id=${id('name')} label="Name" error=${fieldError('name')}
        help="How this tenant is called here, e.g. Contoso.">
        ${attributes => html`<input ...${attributes} ref=${first} type="text" required autocomplete="off"
          value=${values.name} onInput=${set('name')} />`}
      </${Field}>
      ${editing ? html`
        <dl class="facts form-facts">
          <dt>Tenant ID</dt><dd><code>${provider.tenantId}</code></dd>
          <dt>Client ID</dt><dd><code>${provider.clientId}</code></dd>
        </dl>` : html`
        <${Field} id=${id('tenantId')} label="Tenant ID" error=${fieldError('tenantId')}
          help="The Directory (tenant) ID on the app's Overview page, or a verified domain such as contoso.onmicrosoft.com.">
          ${attributes => html`<input ...${attributes} type="text" required autocomplete="off" spellcheck="false"
            value=${values.tenantId} onInput=${set('tenantId')} />`}
        </${Field}>
        <${Field} id=${id('clientId')} label="Client ID" error=${fieldError('clientId')}
          help="The Application (client) ID on the same page.">
          ${attributes => html`<input ...${attributes} type="text" required autocomplete="off" spellcheck="false"
            value=${values.clientId} onInput=${set('clientId')} />`}
        </${Field}>`}
      <${Field} id=${id('clientSecret')} label=${editing ? 'New client secret' : 'Client secret'} error=${fieldError('clientSecret')}
        help=${editing
          ? html`The stored secret ends in <code>${provider.clientSecretHint ? `…${provider.clientSecretHint}` : '(hidden: too short to show)'}</code>; it is never shown. Leave this empty to keep it, or paste a new secret's Value to rotate it.`
          : html`The secret's <strong>Value</strong> under Certificates & secrets (not its Secret ID). It is stored sealed and never shown again.`}>
        ${attributes => html`<input ...${attributes} type="password" required=${!editing} autocomplete="off" spellcheck="false"
          value=${values.clientSecret} onInput=${set('clientSecret')} />`}
      </${Field}>
      <${Field} id=${id('cloud')} label="Cloud" error=${fieldError('cloud')}
        help="The Microsoft cloud the tenant lives in.">
        ${attributes => html`<select ...${attributes} value=${values.cloud} onChange=${set('cloud')}>
          ${CLOUDS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>`}
      </${Field}>
      <${Field} id=${id('clientSecretExpiresAt')} label="Client secret expires (optional)" error=${fieldError('clientSecretExpiresAt')}
        help="The Expires date shown next to the secret. The provider is flagged 30 days before it.">
        ${attributes => html`<input ...${attributes} type="date" value=${values.clientSecretExpiresAt} onInput=${set('clientSecretExpiresAt')} />`}
      </${Field}>
      <${Field} id=${id('syncIntervalMinutes')} label="Sync interval in minutes (optional)" error=${fieldError('syncIntervalMinutes')}
        help="Empty: syncs start only by hand. From 15 to 10080 (a week), e.g. 60 for hourly, 1440 for daily.">
        ${attributes => html`<input ...${attributes} type="text" inputmode="numeric" autocomplete="off" placeholder="Manual only"
          value=${values.syncIntervalMinutes} onInput=${set('syncIntervalMinutes')} />`}
      </${Field}>
      ${editing ? html`
        <div class="field">
          <label class="check"><input type="checkbox" checked=${values.enabled} onChange=${set('enabled')} /> Enabled</label>
          <p class="help">Scheduled syncs run only for enabled providers; Sync now works either way.</p>
        </div>` : null}
      ${error && onlyFieldErrors
        ? html`<p class="field-error" role="alert">The server refused some fields: see the messages next to them.</p>`
        : html`<${ErrorBox} error=${error} title=${editing ? 'Not saved' : 'Not added'} />`}
      <div class="actions">
        <button type="submit" disabled=${busy}>${busy ? 'Saving…' : editing ? 'Save changes' : 'Add provider'}</button>
        <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      </div>
    </form>`;
}

const KINDS = `query ProviderKinds {
  providerKinds { kind displayName setupGuideUrl requiredPermissions { name reason required } }
}`;

// What to set up in Entra ID before adding the provider, from the API.
export function SetupSteps({ kind = 'MICROSOFT_365' }) {
  const { data, error, reload } = useQuery(KINDS, {});
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const info = data.providerKinds.find(entry => entry.kind === kind);
  if (!info) return null;
  return html`
    <aside class="setup" aria-labelledby="setup-heading">
      <h3 id="setup-heading">Before you add ${info.displayName}</h3>
      <ol class="steps">
        <li>In the Microsoft Entra admin center, register an app: <em>App registrations → New registration</em>, single tenant, no redirect URI.</li>
        <li>Under <em>API permissions</em>, add these <strong>application</strong> permissions of Microsoft Graph, then press <strong>Grant admin consent</strong>:</li>
      </ol>
      <ul class="permissions">
        ${info.requiredPermissions.map(permission => html`
          <li data-test="permission" data-permission=${permission.name}>
            <code>${permission.name}</code>
            ${' '}<${Badge} tone=${permission.required ? 'neutral' : 'good'}>${permission.required ? 'required' : 'optional'}</${Badge}>
            <p>${permission.reason}</p>
          </li>`)}
      </ul>
      <ol class="steps" start="3">
        <li>Under <em>Certificates & secrets</em>, create a client secret and copy its <strong>Value</strong> at once (it is shown only once), and note its expiry.</li>
        <li>Fill in this form, then <strong>Test connection</strong> and <strong>Sync now</strong>.</li>
      </ol>
      ${info.setupGuideUrl ? html`<p><a href=${info.setupGuideUrl} target="_blank" rel="noopener">Read the full setup guide</a> (opens in a new tab; what you typed here stays).</p>` : null}
    </aside>`;
}
