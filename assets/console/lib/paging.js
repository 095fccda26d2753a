// A connection read a page at a time with "Load more": `first`/`after`, the pages kept in order.

import { html, useCallback, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { graphql } from './api.js';
import { ErrorBox, formatNumber } from './ui.js';

const START = { pages: [], error: null, loading: true, loadingMore: false };

// Runs `query` with `variables` plus `after`, and `pick(data)` finds the connection in the
// answer ({ nodes, pageInfo, totalCount? }). Changing `key` (what the variables say) starts
// again from the first page; an answer to an older request is dropped. `retry` repeats what
// failed: the first page, or the next one (the pages already shown stay).
export function usePages(query, variables, pick, key = JSON.stringify(variables ?? {})) {
  const [state, setState] = useState(START);
  const generation = useRef(0);

  const fetchPage = useCallback(after => {
    const mine = after ? generation.current : ++generation.current;
    setState(previous => (after ? { ...previous, error: null, loadingMore: true } : START));
    graphql(query, { ...variables, after }).then(
      data => mine === generation.current && setState(previous => ({
        pages: after ? [...previous.pages, pick(data)] : [pick(data)],
        error: null,
        loading: false,
        loadingMore: false,
      })),
      error => mine === generation.current && setState(previous => ({ ...previous, error, loading: false, loadingMore: false })),
    );
  }, [query, key]);

  useEffect(() => fetchPage(null), [fetchPage]);

  const last = state.pages[state.pages.length - 1];
  const loadMore = () => last && fetchPage(last.pageInfo.endCursor);
  const reload = () => fetchPage(null);
  return {
    nodes: state.pages.flatMap(page => page.nodes),
    totalCount: last?.totalCount,
    hasNextPage: Boolean(last?.pageInfo.hasNextPage),
    loaded: Boolean(last),
    loading: state.loading,
    loadingMore: state.loadingMore,
    error: state.error,
    loadMore,
    reload,
    retry: last ? loadMore : reload,
  };
}

// "Load more" under a list read with `usePages`, while another page follows. With `noun`, also how
// many are shown, that no older ones follow, and a next page that failed to load.
export function LoadMore({ pages, noun }) {
  const button = html`
    <button type="button" class="secondary" onClick=${pages.loadMore} disabled=${pages.loadingMore}>
      ${pages.loadingMore ? 'Loading…' : 'Load more'}</button>`;
  if (!noun) return pages.hasNextPage ? html`<div class="pager">${button}</div>` : null;
  return html`
    <div class="pager">
      <span class="muted" role="status">${formatNumber(pages.nodes.length)} ${noun} shown</span>
      ${pages.hasNextPage ? button : html`<span class="muted">No older ${noun}.</span>`}
    </div>
    ${pages.error ? html`<${ErrorBox} title=${`Older ${noun} could not be loaded`} error=${pages.error} onRetry=${pages.retry} />` : null}`;
}
