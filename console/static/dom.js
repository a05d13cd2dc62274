// The DOM builder: the only way the console makes elements.
//
// The page shows data other people control (webhook names, event
// payloads, whatever anyone POSTs to an inbox), so nothing here parses a
// string as HTML: elements come from createElement and text from
// textContent or text nodes, and attributes that could carry script or
// inline style are refused outright.

// el('a', {href: '#/x', class: 'btn', text: 'Go', on: {click: fn}}, child...)
// Children are nodes or strings (strings become text nodes).
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  appendAll(node, children);
  return node;
}

// svg('rect', {x: 1, class: 'bar'}, child...) for the chart.
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    guardAttr(k);
    node.setAttribute(k, String(v));
  }
  appendAll(node, children);
  return node;
}

// guardAttr refuses attributes that would smuggle in script or inline
// style, so a slip in the console fails loudly instead of weakening the
// CSP.
function guardAttr(name) {
  const n = name.toLowerCase();
  if (n === 'style' || n.startsWith('on') || n === 'srcdoc') {
    throw new Error('console: refusing attribute ' + name);
  }
}

const BOOL_PROPS = ['hidden', 'disabled', 'checked', 'selected', 'required', 'readOnly', 'multiple', 'open', 'noValidate'];

function setProps(node, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
    else if (k === 'value') node.value = String(v);
    else if (BOOL_PROPS.includes(k)) node[k] = Boolean(v);
    else if (k === 'href') setHref(node, v);
    else {
      guardAttr(k);
      node.setAttribute(k, String(v));
    }
  }
}

// setHref allows only links inside the console: a user-typed URL must
// never become a javascript: link.
function setHref(node, v) {
  const s = String(v);
  if (!s.startsWith('#')) throw new Error('console: refusing href ' + s);
  node.setAttribute('href', s);
}

function appendAll(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// fill replaces a node's children; unlike replaceChildren it skips
// null and false, which would otherwise show as the text "null".
export function fill(node, ...children) {
  node.replaceChildren();
  appendAll(node, children);
  return node;
}

export const $ = (sel, root) => (root || document).querySelector(sel);
