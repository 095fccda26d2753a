// Sign-in with a token: pasted here, or carried by the link `license-manager token --link`
// prints (taken from the address's fragment before this page shows).

import { html, useState } from '../vendor/htm-preact.js';
import { graphql } from '../lib/api.js';
import { navigate } from '../lib/router.js';
import { safeNext, signIn, signOut } from '../lib/session.js';
import { Field } from '../lib/ui.js';

export default function SignIn({ location, onSignedIn }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(location.query.get('next')) ?? (location.path === '/sign-in' ? '/' : location.path + window.location.search);

  const submit = async event => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    signIn(value);
    try {
      await graphql('query Viewer { viewer { subject } }');
      onSignedIn();
      navigate(next, { replace: true });
    } catch (refused) {
      signOut();
      setError(refused.code === 'UNAUTHENTICATED'
        ? 'The server does not accept this token: it is malformed, expired, or signed with another key.'
        : refused.message);
    } finally {
      setBusy(false);
    }
  };

  document.title = 'Sign in · license-manager';
  return html`
    <main class="sign-in" id="main">
      <h1>Sign in to license-manager</h1>
      <form onSubmit=${submit}>
        <${Field} id="token" label="Access token" error=${error}
          help=${html`Ask an admin for a sign-in link, or mint a token where the server runs:
            <code>license-manager token --role admin --subject YOUR-NAME --link</code>.
            It is kept for this tab only and forgotten when you sign out or close the tab.`}>
          ${attributes => html`<textarea ...${attributes} rows="4" required autocomplete="off" spellcheck="false"
            value=${value} onInput=${event => setValue(event.target.value)}></textarea>`}
        </${Field}>
        <button type="submit" disabled=${busy || !value.trim()}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>`;
}
