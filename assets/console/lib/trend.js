// A SKU's seats over time, drawn as plain SVG from `skuTrend`: paid seats and seats in use, a
// point per day, week or month, a gap where no sync ran (drawn as a break, never as zero), and
// each point's figures and cost in its tooltip. No chart library: two polylines and a few
// labels are all it takes.

import { html, useState } from '../vendor/htm-preact.js';
import { ErrorBox, Loading, formatDate, formatMoney, formatNumber, useQuery } from './ui.js';

const TREND = `query Trend($skuId: ID!, $from: NaiveDate!, $to: NaiveDate!, $interval: TrendInterval!) {
  skuTrend(skuId: $skuId, from: $from, to: $to, interval: $interval) {
    points { start end snapshotDay enabledUnits consumedUnits availableUnits monthlyCost { amount currency } }
  }
}`;

const PERIODS = {
  days: { label: 'Last 90 days, daily', days: 89, interval: 'DAY', unit: 'day' },
  weeks: { label: 'Last year, weekly', days: 364, interval: 'WEEK', unit: 'week' },
  months: { label: 'Last 3 years, monthly', days: 365 * 3, interval: 'MONTH', unit: 'month' },
};

const WIDTH = 720;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 12, bottom: 28, left: 48 };

function day(date) {
  return date.toISOString().slice(0, 10);
}

export function SeatTrend({ skuId }) {
  const [period, setPeriod] = useState('days');
  const chosen = PERIODS[period];
  const today = new Date();
  const variables = {
    skuId,
    from: day(new Date(today.getTime() - chosen.days * 86_400_000)),
    to: day(today),
    interval: chosen.interval,
  };
  const { data, error, reload } = useQuery(TREND, variables);
  const points = data?.skuTrend?.points ?? [];
  return html`
    <section aria-labelledby="trend-heading" class="trend">
      <div class="section-heading">
        <h2 id="trend-heading">Seats over time</h2>
        <label class="inline-field">
          <span>Period</span>
          <select value=${period} onChange=${event => setPeriod(event.target.value)}>
            ${Object.entries(PERIODS).map(([key, { label }]) => html`<option value=${key}>${label}</option>`)}
          </select>
        </label>
      </div>
      ${error ? html`<${ErrorBox} error=${error} onRetry=${reload} title="Could not load the trend" />`
        : !data ? html`<${Loading} label="Loading the trend…" />`
        : points.some(point => point.snapshotDay)
          ? html`<${Chart} points=${points} unit=${chosen.unit} />`
          : html`<p class="muted" data-test="trend-empty">No seats recorded in this period yet: each sync records the day's seats, and the chart starts with the first.</p>`}
    </section>`;
}

// The points as x/y positions, with the runs of consecutive known points as separate lines.
function Chart({ points, unit }) {
  const known = points.filter(point => point.snapshotDay);
  const top = Math.max(1, ...known.map(point => Math.max(point.enabledUnits, point.consumedUnits)));
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = index => MARGIN.left + (points.length === 1 ? innerWidth / 2 : (index / (points.length - 1)) * innerWidth);
  const y = value => MARGIN.top + innerHeight - (value / top) * innerHeight;
  const runs = field => {
    const lines = [];
    let current = [];
    points.forEach((point, index) => {
      if (point.snapshotDay) {
        current.push(`${x(index).toFixed(1)},${y(point[field]).toFixed(1)}`);
      } else if (current.length) {
        lines.push(current);
        current = [];
      }
    });
    if (current.length) lines.push(current);
    return lines;
  };
  const last = known[known.length - 1];
  const gaps = points.length - known.length;
  const summary = `Paid seats and seats in use from ${formatDate(points[0].start)} to ${formatDate(points[points.length - 1].end)}: `
    + `now ${formatNumber(last.consumedUnits)} in use of ${formatNumber(last.enabledUnits)}, `
    + `at most ${formatNumber(Math.max(...known.map(point => point.consumedUnits)))} in use`
    + (gaps ? `; ${gaps} of ${points.length} points without a sync.` : '.');
  return html`
    <figure class="trend-chart">
      <svg viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label=${summary} data-test="trend-chart"
        data-points=${points.length} data-gaps=${gaps}>
        <line class="axis" x1=${MARGIN.left} y1=${y(0)} x2=${WIDTH - MARGIN.right} y2=${y(0)} />
        <line class="grid" x1=${MARGIN.left} y1=${y(top)} x2=${WIDTH - MARGIN.right} y2=${y(top)} />
        <text class="tick" x=${MARGIN.left - 6} y=${y(top) + 4} text-anchor="end">${formatNumber(top)}</text>
        <text class="tick" x=${MARGIN.left - 6} y=${y(0) + 4} text-anchor="end">0</text>
        <text class="tick" x=${MARGIN.left} y=${HEIGHT - 8}>${formatDate(points[0].start)}</text>
        <text class="tick" x=${WIDTH - MARGIN.right} y=${HEIGHT - 8} text-anchor="end">${formatDate(points[points.length - 1].end)}</text>
        ${runs('enabledUnits').map(line => html`<polyline class="paid" points=${line.join(' ')} />`)}
        ${runs('consumedUnits').map(line => html`<polyline class="used" points=${line.join(' ')} />`)}
        ${points.map((point, index) => point.snapshotDay ? html`
          <circle class="used" cx=${x(index)} cy=${y(point.consumedUnits)} r="3">
            <title>${tooltip(point)}</title>
          </circle>` : null)}
      </svg>
      <figcaption class="legend">
        <span class="key paid">Paid seats</span>
        <span class="key used">In use</span>
        ${gaps ? html`<span class="muted">A break: no sync that ${unit}.</span>` : null}
      </figcaption>
    </figure>`;
}

function tooltip(point) {
  const cost = point.monthlyCost ? ` · ${formatMoney(point.monthlyCost)} a month` : '';
  return `${formatDate(point.snapshotDay)}: ${formatNumber(point.consumedUnits)} in use of ${formatNumber(point.enabledUnits)} paid${cost}`;
}
