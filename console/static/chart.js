// The statistics chart: success rate (line, left axis 0–100 %) and
// average latency (bars, right axis) per bucket, as inline SVG. Every
// label is an SVG <text> with textContent; hovering a column shows its
// numbers through a <title>.

import { svg } from './dom.js';
import { fmtMs, plural } from './format.js';

const W = 760, H = 250;
const M = { l: 52, r: 64, t: 16, b: 36 };

// latencyTicks are the right axis's ticks for a largest value of max ms:
// 0 and then equal steps of 1, 2, 2.5 or 5 times a power of ten, four or
// five of them, the last at or above max. Each tick is rounded to the
// step's own precision, so that 3 × 0.1 is 0.3 and not 0.30000000000000004.
export function latencyTicks(max) {
  if (!(max > 0)) max = 1;
  const raw = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v * 4 >= max * (1 - 1e-12)) || 10 * p;
  const n = Math.max(1, Math.ceil(max / step - 1e-9));
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  const ticks = [];
  for (let i = 0; i <= n; i++) ticks.push(Number((i * step).toFixed(digits)));
  return ticks;
}

// geometry is where things go: plot size, bucket width and the scales.
function geometry(buckets) {
  const pw = W - M.l - M.r, ph = H - M.t - M.b;
  const bw = pw / Math.max(buckets.length, 1);
  const latTicks = latencyTicks(Math.max(0, ...buckets.map((b) => b.avgDurationMs || 0)));
  const maxLat = latTicks[latTicks.length - 1];
  return {
    pw, ph, bw, maxLat, latTicks,
    x: (i) => M.l + bw * (i + 0.5),
    yRate: (r) => M.t + ph * (1 - Math.min(1, Math.max(0, r))),
    yLat: (ms) => M.t + ph * (1 - Math.min(1, ms / maxLat)),
  };
}

const hour = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

export function drawChart(series) {
  const buckets = (series && series.buckets) || [];
  const g = geometry(buckets);
  const root = svg('svg', {
    viewBox: '0 0 ' + W + ' ' + H, class: 'chart', id: 'stats-svg', role: 'img',
    'aria-label': 'Success rate and average latency per ' + Math.round((series.bucketSeconds || 3600) / 60) + ' minutes over the last 24 hours',
    preserveAspectRatio: 'xMidYMid meet',
  });
  root.append(svg('title', null, 'Success rate and average latency, last 24 hours'));
  root.append(...axes(g), ...latencyBars(buckets, g), ...rateLine(buckets, g), ...timeLabels(buckets, g));
  // Hover columns on top, so the whole column shows its numbers.
  buckets.forEach((b, i) => {
    root.append(svg('rect', { x: (M.l + g.bw * i).toFixed(1), y: M.t, width: g.bw.toFixed(1), height: g.ph, class: 'hover-col' },
      svg('title', null, bucketText(b))));
  });
  if (!buckets.reduce((s, b) => s + (b.total || 0), 0)) {
    root.append(svg('text', { x: M.l + g.pw / 2, y: M.t + g.ph / 2, class: 'chart-empty', 'text-anchor': 'middle' },
      'No attempts in the last 24 hours — send a test event'));
  }
  return root;
}

// axes is the grid and both axes' labels: the success rate's quarters on
// the left, the latency's own ticks on the right.
function axes(g) {
  const out = [];
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const y = M.t + g.ph * (1 - f);
    out.push(
      svg('line', { x1: M.l, x2: M.l + g.pw, y1: y, y2: y, class: f === 0 ? 'axis' : 'grid' }),
      svg('text', { x: M.l - 8, y: y + 4, class: 'tick tick-left', 'text-anchor': 'end' }, Math.round(f * 100) + '%'));
  }
  for (const ms of g.latTicks) {
    const y = g.yLat(ms);
    out.push(svg('text', { x: M.l + g.pw + 8, y: y + 4, class: 'tick tick-right', 'text-anchor': 'start' }, fmtTick(ms)));
  }
  const mid = M.t + g.ph / 2;
  out.push(
    svg('text', { x: 12, y: mid, class: 'axis-title', 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + mid + ')' }, 'success'),
    svg('text', { x: W - 10, y: mid, class: 'axis-title', 'text-anchor': 'middle', transform: 'rotate(90 ' + (W - 10) + ' ' + mid + ')' }, 'avg latency'));
  return out;
}

function latencyBars(buckets, g) {
  const out = [];
  buckets.forEach((b, i) => {
    if (b.avgDurationMs === null || b.avgDurationMs === undefined) return;
    const y = g.yLat(b.avgDurationMs);
    out.push(svg('rect', {
      x: (M.l + g.bw * i + g.bw * 0.2).toFixed(1), width: (g.bw * 0.6).toFixed(1),
      y: y.toFixed(1), height: Math.max(1, M.t + g.ph - y).toFixed(1), class: 'bar-latency',
    }, svg('title', null, bucketText(b))));
  });
  return out;
}

// rateLine is the success-rate line and its points, broken over empty
// buckets (no attempts is not 0 %).
function rateLine(buckets, g) {
  const out = [];
  let d = '';
  let pen = false;
  buckets.forEach((b, i) => {
    if (b.successRate === null || b.successRate === undefined) { pen = false; return; }
    d += (pen ? 'L' : 'M') + g.x(i).toFixed(1) + ' ' + g.yRate(b.successRate).toFixed(1) + ' ';
    pen = true;
  });
  if (d) out.push(svg('path', { d: d.trim(), class: 'line-rate' }));
  buckets.forEach((b, i) => {
    if (b.successRate === null || b.successRate === undefined) return;
    out.push(svg('circle', {
      cx: g.x(i).toFixed(1), cy: g.yRate(b.successRate).toFixed(1), r: 3.5,
      class: b.successRate < 1 ? 'point-rate point-bad' : 'point-rate',
    }, svg('title', null, bucketText(b))));
  });
  return out;
}

// timeLabels labels every fourth bucket, and the "now" edge.
function timeLabels(buckets, g) {
  const out = [];
  buckets.forEach((b, i) => {
    if (i % 4 !== 0) return;
    out.push(svg('text', { x: g.x(i).toFixed(1), y: H - M.b + 18, class: 'tick', 'text-anchor': 'middle' }, hour(b.start)));
  });
  out.push(svg('text', { x: M.l + g.pw, y: H - 4, class: 'tick', 'text-anchor': 'end' }, 'now'));
  return out;
}

// fmtTick is a tick's value exactly, in ms, or in s from a second up
// (ticks are multiples of their step, so the shortest form of the number
// is exact: 0.25 ms, 1.5 s).
export function fmtTick(ms) {
  if (ms >= 1000) return String(Number((ms / 1000).toFixed(6))) + ' s';
  return String(ms) + ' ms';
}

function bucketText(b) {
  if (!b.total) return hour(b.start) + ': no attempts';
  return hour(b.start) + ': ' + plural(b.total, 'attempt') + ', ' + b.success + ' ok, ' + b.failed + ' failed, ' +
    Math.round(b.successRate * 1000) / 10 + '% success, avg ' + fmtMs(b.avgDurationMs) + ', max ' + fmtMs(b.maxDurationMs);
}
