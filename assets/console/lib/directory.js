// Directory users as the users page and a SKU's holders show them: who they are, each license
// with the path it came by (direct or through a group) and its error, and the three sign-in
// dates, "unknown" where the tenant gives no sign-in data.

import { html } from '../vendor/htm-preact.js';
import { Link } from './router.js';
import { Badge, formatDate } from './ui.js';
import { DateWithAge } from './lists.js';

// The fields a row shows; spread with `...UserRow` in a query.
export const USER_ROW = `
fragment UserRow on DirectoryUser {
  id userPrincipalName displayName mail accountEnabled userType createdAt removedAt
  lastSignInAt lastNonInteractiveSignInAt lastSuccessfulSignInAt signInDataAvailable
  provider { id name }
  licenses {
    sku { id skuPartNumber displayName }
    assignedDirectly inheritedFromGroupIds state error
    sources { groupId state error }
  }
}`;

// The id of the note that explains "unknown" sign-in dates; cells point at it.
const UNKNOWN_NOTE = 'sign-in-unknown-note';

// Told once above a table where any row has no sign-in data.
export function UnknownSignInNote({ users }) {
  const unknown = users.filter(user => !user.signInDataAvailable).length;
  if (!unknown) return null;
  return html`
    <p class="notice" id=${UNKNOWN_NOTE}>
      <strong>Sign-in dates unknown</strong> for ${unknown === users.length ? 'these users' : `${unknown} of these users`}:
      their tenant does not provide sign-in activity (it needs Entra ID P1 or P2, and the app
      registration needs AuditLog.Read.All). Unknown means neither inactive nor never signed in.
    </p>`;
}

export function UserBadges({ user }) {
  return html`
    ${!user.accountEnabled ? html` <${Badge} tone="warn">Account disabled</${Badge}>` : null}
    ${user.removedAt ? html` <${Badge} tone="bad">Removed ${formatDate(user.removedAt)}</${Badge}>` : null}
    ${user.userType === 'Guest' ? html` <${Badge}>Guest</${Badge}>` : null}`;
}

// Name, principal name and mail, with the account's badges.
export function UserIdentity({ user, link }) {
  const name = user.displayName || user.userPrincipalName;
  return html`
    <div class="identity">
      <strong>${link ? html`<${Link} to=${link}>${name}</${Link}>` : name}</strong>
      <${UserBadges} user=${user} />
    </div>
    <div class="upn mono">${user.userPrincipalName}</div>
    ${user.mail && user.mail.toLowerCase() !== user.userPrincipalName.toLowerCase()
      ? html`<div class="muted mail">${user.mail}</div>` : null}`;
}

// The paths a license came by, each with its own trouble; from the summary fields when the
// provider has not said (no `sources`).
function paths(license) {
  if (license.sources.length) return license.sources;
  const direct = license.assignedDirectly ? [{ groupId: null, state: license.state, error: license.error }] : [];
  return [...direct, ...license.inheritedFromGroupIds.map(groupId => ({ groupId, state: null, error: null }))];
}

function GroupId({ id }) {
  return html`<code class="group-id" title=${id}>${id.length > 13 ? `${id.slice(0, 8)}…` : id}</code><span class="visually-hidden"> (${id})</span>`;
}

function Path({ path }) {
  const trouble = path.error ?? (path.state && path.state !== 'Active' ? path.state : null);
  return html`
    <li>
      ${path.groupId ? html`via group <${GroupId} id=${path.groupId} />` : 'direct'}
      ${trouble ? html` <span class="path-error">(${path.error ? `error ${path.error}` : path.state})</span>` : null}
    </li>`;
}

// Each license with how it came, those in error highlighted. `only` keeps one SKU's license.
export function LicenseList({ licenses, only }) {
  const shown = only ? licenses.filter(license => license.sku.id === only) : licenses;
  if (!shown.length) return html`<span class="muted">No license</span>`;
  return html`
    <ul class="licenses">
      ${shown.map(license => html`
        <li class=${license.error ? 'license in-error' : 'license'} data-test="license"
          data-sku-part-number=${license.sku.skuPartNumber}>
          ${only ? null : html`<${Link} to=${`/licenses/${license.sku.id}`}>${license.sku.displayName}</${Link}>`}
          ${license.error ? html` <${Badge} tone="bad">Error: ${license.error}</${Badge}>` : null}
          ${license.state && license.state !== 'Active' && !license.error ? html` <${Badge} tone="warn">${license.state}</${Badge}>` : null}
          <ul class=${only ? 'paths' : 'paths after-name'}>${paths(license).map(path => html`<${Path} path=${path} />`)}</ul>
        </li>`)}
    </ul>`;
}

const SIGN_INS = [
  ['lastSignInAt', 'Interactive'],
  ['lastNonInteractiveSignInAt', 'Non-interactive'],
  ['lastSuccessfulSignInAt', 'Successful'],
];

// The three sign-in dates. With sign-in data, no date means "never"; without, "unknown".
export function SignIns({ user }) {
  return html`
    <dl class="sign-ins">
      ${SIGN_INS.map(([field, label]) => html`
        <dt>${label}</dt>
        <dd>${user[field]
          ? html`<${DateWithAge} iso=${user[field]} />`
          : user.signInDataAvailable
            ? 'Never'
            : html`<span class="unknown" aria-describedby=${UNKNOWN_NOTE}>Unknown</span>`}</dd>`)}
    </dl>`;
}

// A table of users; `only` narrows each user's licenses to one SKU's, `withProvider` adds the
// provider column (when there are several).
export function UsersTable({ users, only, withProvider, caption, userLink }) {
  return html`
    <div class="table-wrap">
      <table class="users">
        <caption class="visually-hidden">${caption}</caption>
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">${only ? 'How it is held' : 'Licenses'}</th>
            <th scope="col">Last sign-ins</th>
            <th scope="col" class="hide-narrow">Created</th>
            ${withProvider ? html`<th scope="col" class="hide-narrow">Provider</th>` : null}
          </tr>
        </thead>
        <tbody>
          ${users.map(user => html`
            <tr data-test="user" data-upn=${user.userPrincipalName}
              class=${[user.removedAt ? 'removed' : '', !user.accountEnabled ? 'disabled' : ''].join(' ').trim() || undefined}>
              <td><${UserIdentity} user=${user} link=${userLink?.(user)} /></td>
              <td><${LicenseList} licenses=${user.licenses} only=${only} /></td>
              <td><${SignIns} user=${user} /></td>
              <td class="hide-narrow">${formatDate(user.createdAt)}</td>
              ${withProvider ? html`<td class="hide-narrow">${user.provider.name}</td>` : null}
            </tr>`)}
        </tbody>
      </table>
    </div>`;
}
