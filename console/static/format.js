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

// prettyBody pretty-prints JSON text and leaves anything else alone. It
// re-indents the text itself rather than JSON.parse and stringify, which
// would change what was sent: 2.50 would show as 2.5, 1e3 as 1000, a
// large id as a rounded one, and of two repeated keys one would vanish.
// Every string and number lexeme is kept verbatim; only whitespace
// between tokens changes.
export function prettyBody(text) {
  if (text === null || text === undefined) return '';
  const s = String(text);
  const out = prettyJSON(s);
  return out === null ? s : out;
}

// JSON_TOKEN matches one JSON token at the current position: a string
// (with its escapes), a number, a literal or a structural character.
const JSON_TOKEN = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\]:,]/y;

// prettyJSON is text indented by two spaces, or null when text is not
// one JSON value.
function prettyJSON(text) {
  const tokens = [];
  let i = 0;
  const ws = /[ \t\r\n]*/y;
  for (;;) {
    ws.lastIndex = i;
    ws.exec(text);
    i = ws.lastIndex;
    if (i >= text.length) break;
    JSON_TOKEN.lastIndex = i;
    const m = JSON_TOKEN.exec(text);
    if (!m) return null;
    tokens.push(m[0]);
    i = JSON_TOKEN.lastIndex;
  }
  // Check the grammar as well as the tokens, so that text that merely
  // looks like JSON is shown as it is.
  let pos = 0;
  const value = () => {
    const t = tokens[pos++];
    if (t === undefined) return false;
    if (t === '{') {
      if (tokens[pos] === '}') { pos++; return true; }
      for (;;) {
        const k = tokens[pos++];
        if (!k || k[0] !== '"' || tokens[pos++] !== ':' || !value()) return false;
        const sep = tokens[pos++];
        if (sep === '}') return true;
        if (sep !== ',') return false;
      }
    }
    if (t === '[') {
      if (tokens[pos] === ']') { pos++; return true; }
      for (;;) {
        if (!value()) return false;
        const sep = tokens[pos++];
        if (sep === ']') return true;
        if (sep !== ',') return false;
      }
    }
    return !'}]:,'.includes(t);
  };
  if (!tokens.length || !value() || pos !== tokens.length) return null;
  let out = '';
  let depth = 0;
  const nl = () => '\n' + '  '.repeat(depth);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    const next = tokens[k + 1];
    if (t === '{' || t === '[') {
      const close = t === '{' ? '}' : ']';
      if (next === close) { out += t + close; k++; continue; }
      depth++;
      out += t + nl();
    } else if (t === '}' || t === ']') {
      depth--;
      out += nl() + t;
    } else if (t === ',') {
      out += ',' + nl();
    } else if (t === ':') {
      out += ': ';
    } else {
      out += t;
    }
  }
  return out;
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
