// The start page: the setup path for a fresh install, the licenses for one with a provider.

import { html, useEffect } from '../vendor/htm-preact.js';
import { navigate } from '../lib/router.js';
import { ErrorBox, Loading, useQuery } from '../lib/ui.js';

export default function Home() {
  const { data, error, reload } = useQuery('query Home { providers { id } }');
  useEffect(() => {
    if (data) navigate(data.providers.length ? '/licenses' : '/settings/providers', { replace: true });
  }, [data]);
  return error ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : html`<${Loading} />`;
}
