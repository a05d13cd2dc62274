// Formatting of times, durations, sizes and bodies for display.

import { el } from './dom.js';

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

// fmtShort is a local time without the date when it is today.
export function fmtShort(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  if (d.toDateString() === new Date().toDateString()) {
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  return fmtTime(iso);
}

// timeEl shows a local time, with the exact UTC time on hover.
export function timeEl(iso) {
  return el('time', { datetime: iso || '', title: iso || '', text: fmtTime(iso) });
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  const n = Number(ms);
  return (Number.isInteger(n) ? n : n.toFixed(1)) + ' ms';
}

export function fmtBytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

// prettyBody pretty-prints JSON text and leaves anything else alone.
export function prettyBody(text) {
  if (text === null || text === undefined) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return String(text);
  }
}

export function plural(n, one, many) {
  return n + ' ' + (n === 1 ? one : many || one + 's');
}

// toLocalInput formats a Date for <input type="datetime-local">.
export function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
}

// Sample data per event type, for a catalogue that gives no example (an
// older webhookd, a type added by --event-types alone). Which types exist,
// and their examples, come from GET /api/v1/event-types.
const SAMPLE_DATA = {
  'message.new': { messageId: 'msg_123', conversationId: 'conv_456', content: 'Hello!' },
  'conversation.created': { conversationId: 'conv_456', contactId: 'contact_789' },
  'conversation.assigned': { conversationId: 'conv_456', assigneeId: 'agent_42' },
  'campaign.started': { campaignId: 'camp_1', recipients: 100 },
  'campaign.completed': { campaignId: 'camp_1', sent: 100, failed: 0 },
  'webhook.test': {},
};

// sampleFor is the data a form starts with for type: the catalogue's
// first example of it (catalog from eventCatalog()), else a sample.
export function sampleFor(type, catalog) {
  const t = typeInfo(catalog, type);
  if (t && t.examples && t.examples.length) return JSON.stringify(t.examples[0], null, 2);
  return JSON.stringify(SAMPLE_DATA[type] || { example: true }, null, 2);
}

// typeInfo is the catalogue's entry for type, or undefined.
export function typeInfo(catalog, type) {
  return (catalog || []).find((t) => t.name === type);
}
