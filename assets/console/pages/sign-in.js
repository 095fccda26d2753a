// Sign-in: with the organization's identity provider when the server names one, and with a
// token in every install — pasted here, or carried by the link `license-manager token --link`
// prints (taken from the address's fragment before this page shows).

import { html, useEffect, useState } from '../vendor/htm-preact.js';
import { graphql } from '../lib/api.js';
import { finishSignIn, identityProvider, isProviderAnswer, startSignIn } from '../lib/identity.js';
import { navigate } from '../lib/router.js';
import { safeNext, signIn, signOut } from '../lib/session.js';
import { ErrorBox, Field, Loading } from '../lib/ui.js';

export default function SignIn({ location, onSignedIn }) {
  const next = safeNext(location.query.get('next')) ?? (location.path === '/sign-in' ? '/' : location.path + window.location.search);
  const answer = isProviderAnswer(location.query) ? location.query : null;
  document.title = 'Sign in · license-manager';
  return html`
    <main class="sign-in" id="main">
      <h1>Sign in to license-manager</h1>
      ${answer
        ? html`<${ProviderAnswer} answer=${answer} onSignedIn=${onSignedIn} />`
        : html`<${SignInChoices} next=${next} onSignedIn=${onSignedIn} />`}
    </main>`;
}

// The identity provider's answer: redeemed once, then the page the person was going to.
function ProviderAnswer({ answer, onSignedIn }) {
  const [failure, setFailure] = useState(null);
  useEffect(() => {
    finishSignIn(answer).then(
      path => { onSignedIn(); navigate(path, { replace: true }); },
      setFailure,
    );
  }, []);
  if (!failure) return html`<${Loading} label="Signing you in…" />`;
  return html`
    <${ErrorBox} error=${failure} />
    <p><a href="/sign-in">Sign in again</a></p>`;
}

function SignInChoices({ next, onSignedIn }) {
  // undefined: not known yet; null: tokens only.
  const [provider, setProvider] = useState(undefined);
  const [unavailable, setUnavailable] = useState(null);
  const [leaving, setLeaving] = useState(false);
  useEffect(() => {
    identityProvider().then(setProvider, failure => { setUnavailable(failure); setProvider(null); });
  }, []);

  if (provider === undefined) return html`<${Loading} />`;
  const tokenForm = html`<${TokenForm} next=${next} onSignedIn=${onSignedIn} />`;
  if (!provider) {
    return html`
      ${unavailable && html`<p class="notice" role="status">Signing in with your organization's account is not available right now: ${unavailable.message}</p>`}
      ${tokenForm}`;
  }
  const go = () => {
    setLeaving(true);
    startSignIn(provider, next).catch(failure => { setLeaving(false); setUnavailable(failure); });
  };
  return html`
    ${unavailable && html`<${ErrorBox} error=${unavailable} />`}
    <p>
      <button type="button" onClick=${go} disabled=${leaving}>
        ${leaving ? 'Opening the sign-in page…' : "Sign in with your organization's account"}
      </button>
    </p>
    <p class="help">You sign in at <code>${new URL(provider.authorizationEndpoint).host}</code> and come back here.</p>
    <details class="other-sign-in">
      <summary>Sign in with an access token instead</summary>
      ${tokenForm}
    </details>`;
}

function TokenForm({ next, onSignedIn }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

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

  return html`
    <form onSubmit=${submit}>
      <${Field} id="token" label="Access token" error=${error}
        help=${html`Ask an admin for a sign-in link, or mint a token where the server runs:
          <code>license-manager token --role admin --subject YOUR-NAME --link</code>.
          It is kept for this tab only and forgotten when you sign out or close the tab.`}>
        ${attributes => html`<textarea ...${attributes} rows="4" required autocomplete="off" spellcheck="false"
          value=${value} onInput=${event => setValue(event.target.value)}></textarea>`}
      </${Field}>
      <button type="submit" disabled=${busy || !value.trim()}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>`;
}
