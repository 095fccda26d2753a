// The public API, as any frontend calls it: GraphQL over POST /graphql, subscriptions over the
// graphql-transport-ws protocol on the same path, CSV from /export, each with the bearer token.

import { ensureFresh } from './identity.js';
import { token, signOut } from './session.js';

// One error of a response, with what a page shows: the message, the stable code, the fields
// of a refused input (BAD_USER_INPUT) and whether trying again can help.
export class ApiError extends Error {
  constructor({ message, code, fields = [], status = 0, hint }) {
    super(message);
    this.code = code ?? 'INTERNAL';
    this.fields = fields;
    this.status = status;
    // Set where the page knows better than the code's usual advice (see `hintFor`).
    this.hint = hint;
  }

  // The message for one input field, or undefined.
  fieldMessage(field) {
    return this.fields.find(entry => entry.field === field)?.message;
  }

  get retryable() {
    return ['UNAVAILABLE', 'TIMEOUT', 'TOO_MANY_REQUESTS', 'INTERNAL', 'NETWORK'].includes(this.code);
  }
}

// What to do about a code, in a person's words; the server's message says what happened.
const HINTS = {
  UNAUTHENTICATED: 'Your sign-in has expired or is not valid. Sign in again.',
  FORBIDDEN: 'Your role may not do this. Ask an admin.',
  NETWORK: 'The server did not answer. Check that it is running, then try again.',
  UNAVAILABLE: 'The server is busy or its database does not answer. Try again in a moment.',
  TIMEOUT: 'The request took too long and was stopped. Try again, or narrow the filters.',
  TOO_MANY_REQUESTS: 'Too many requests. Wait a moment, then try again.',
  INTERNAL: 'The server failed; its log has the details.',
  CONFLICT: 'Something changed meanwhile. Reload the page and try again.',
  NOT_FOUND: 'It no longer exists; it may have been deleted.',
};

export function hintFor(error) {
  return error.hint ?? HINTS[error.code];
}

// Listeners told when the server refuses the token: the app then shows the sign-in page.
const signedOutListeners = new Set();
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

function refused(error) {
  if (error.code === 'UNAUTHENTICATED') {
    signOut();
    signedOutListeners.forEach(listener => listener());
  }
  return error;
}

// The Authorization header, after renewing a token from the identity provider at its end.
async function authorization() {
  await ensureFresh();
  const current = token();
  return current ? { authorization: `Bearer ${current}` } : {};
}

// Runs one operation and gives back its `data`; throws an ApiError for the first error.
export async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...await authorization() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (offline) {
    throw new ApiError({ message: 'The server cannot be reached.', code: 'NETWORK' });
  }
  const body = await response.json().catch(() => null);
  const first = body?.errors?.[0];
  if (first) {
    throw refused(new ApiError({
      message: first.message,
      code: first.extensions?.code,
      fields: first.extensions?.fields ?? [],
      status: response.status,
    }));
  }
  if (!response.ok || !body?.data) {
    throw new ApiError({ message: `The server answered HTTP ${response.status}.`, code: 'INTERNAL', status: response.status });
  }
  return body.data;
}

// Subscribes over graphql-transport-ws. `onData` gets each result's data, `onError` an ApiError
// (the socket's close included); returns a function that unsubscribes.
export function subscribe(query, variables, { onData, onError, onComplete }) {
  const address = new URL('/graphql', window.location.href);
  address.protocol = address.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(address, 'graphql-transport-ws');
  let finished = false;
  const finish = () => { finished = true; socket.close(1000); };
  socket.onopen = async () => {
    const payload = { Authorization: (await authorization()).authorization ?? '' };
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'connection_init', payload }));
  };
  socket.onmessage = event => {
    const message = JSON.parse(event.data);
    if (message.type === 'connection_ack') {
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
    } else if (message.type === 'ping') {
      socket.send(JSON.stringify({ type: 'pong' }));
    } else if (message.type === 'next') {
      const first = message.payload.errors?.[0];
      if (first) onError(refused(new ApiError({ message: first.message, code: first.extensions?.code })));
      else onData(message.payload.data);
    } else if (message.type === 'error') {
      const first = message.payload?.[0] ?? {};
      finished = true;
      onError(refused(new ApiError({ message: first.message, code: first.extensions?.code })));
    } else if (message.type === 'complete') {
      finish();
      onComplete?.();
    }
  };
  socket.onclose = event => {
    if (finished) return;
    finished = true;
    const code = event.code === 4403 || event.code === 4401 ? 'UNAUTHENTICATED' : 'NETWORK';
    onError(refused(new ApiError({ message: `Live updates stopped (${event.reason || `close code ${event.code}`}).`, code })));
  };
  return () => {
    if (finished) return;
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id: '1', type: 'complete' }));
    finish();
  };
}

// Fetches a CSV export with the token and saves it under `filename`: a plain link cannot carry
// the Authorization header.
export async function download(path, params, filename) {
  const address = new URL(path, window.location.href);
  Object.entries(params).forEach(([name, value]) => {
    if (value !== undefined && value !== null && value !== '') address.searchParams.set(name, value);
  });
  let response;
  try {
    response = await fetch(address, { headers: await authorization() });
  } catch (offline) {
    throw new ApiError({ message: 'The server cannot be reached.', code: 'NETWORK' });
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const first = body?.errors?.[0];
    throw refused(new ApiError({
      message: first?.message ?? `The export failed with HTTP ${response.status}.`,
      code: first?.extensions?.code ?? 'INTERNAL',
      fields: first?.extensions?.fields ?? [],
      status: response.status,
    }));
  }
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
