// A webhook's statistics card: the numbers of the last 24 hours and the
// chart, redrawn as new attempts arrive.

import { api, apiPath, enc } from '../api.js';
import { drawChart } from '../chart.js';
import { el, fill } from '../dom.js';
import { fmtMs, fmtShort } from '../format.js';
import { card, errorBox, quiet } from '../ui.js';

// statsCard draws the card and sets ctx.refreshStats, which the log calls
// when attempts arrive.
export function statsCard(ctx) {
  const numbers = el('div', { class: 'stats', id: 'stats-numbers' }, el('p', { class: 'muted', text: 'Loading…' }));
  const chart = el('div', { class: 'chart-wrap', id: 'stats-chart' });
  const section = card('Last 24 hours', 'stats-card', numbers, chart,
    el('div', { class: 'legend' },
      el('span', { class: 'legend-item' }, el('span', { class: 'swatch swatch-rate' }), 'success rate (left axis)'),
      el('span', { class: 'legend-item' }, el('span', { class: 'swatch swatch-latency' }), 'average latency (right axis)')));
  let timer = 0;
  let running = false;
  async function refresh() {
    if (running) { timer = setTimeout(refresh, 500); return; }
    running = true;
    try {
      await redraw(ctx, numbers, chart);
    } catch (err) {
      if (!quiet(err) && !ctx.signal.aborted) fill(numbers, errorBox(err));
    } finally {
      running = false;
    }
  }
  // New attempts arrive in bursts; redraw at most once a second.
  ctx.refreshStats = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 1000);
  };
  refresh();
  return section;
}

async function redraw(ctx, numbers, chart) {
  const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const base = '/api/v1/webhooks/' + enc(ctx.w.id);
  const opts = { signal: ctx.signal };
  const [all, day, series] = await Promise.all([
    api('GET', base + '/stats', undefined, opts),
    api('GET', apiPath(base + '/stats', { since }), undefined, opts),
    api('GET', apiPath(base + '/stats/series', { hours: 24 }), undefined, opts).catch((err) => {
      if (quiet(err)) throw err;
      return { error: err };
    }),
  ]);
  if (ctx.signal.aborted) return;
  fill(numbers, ...statNumbers(all, day));
  fill(chart, series.error
    ? el('p', { class: 'muted', text: 'Chart unavailable: ' + series.error.message })
    : drawChart(series));
}

function statNumbers(all, day) {
  const stat = (label, value, id, kind) => el('div', { class: ['stat', kind && 'stat-' + kind], id },
    el('div', { class: 'stat-value', text: value }),
    el('div', { class: 'stat-label', text: label }));
  const rateKind = day.totalDeliveries === 0 ? null : day.successRate >= 99 ? 'ok' : day.successRate >= 90 ? 'warn' : 'danger';
  return [
    stat('attempts (24 h)', String(day.totalDeliveries), 'stat-total'),
    stat('success rate (24 h)', day.totalDeliveries ? day.successRate.toFixed(1) + ' %' : '—', 'stat-rate', rateKind),
    stat('average latency (24 h)', day.totalDeliveries ? fmtMs(day.averageResponseTimeMs) : '—', 'stat-avg'),
    stat('p95 latency (last 1,000)', all.totalDeliveries ? fmtMs(all.p95ResponseTimeMs) : '—', 'stat-p95'),
    stat('pending deliveries', String(all.pendingDeliveries), 'stat-pending', all.pendingDeliveries ? 'warn' : null),
    stat('failures in a row', String(all.consecutiveFailures), 'stat-streak', all.consecutiveFailures ? 'danger' : null),
    stat('all-time attempts', String(all.totalDeliveries) + ' (' + all.failedDeliveries + ' failed)', 'stat-alltime'),
    stat('last attempt', all.lastDeliveryAt ? fmtShort(all.lastDeliveryAt) : 'never', 'stat-last'),
  ];
}
