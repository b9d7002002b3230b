/* The protocol tree and the bytes pane, linked both ways: selecting a field lights up its bytes
   (the node's data-off/data-len), clicking a byte selects the most specific field covering it.
   Expanded fields are remembered by name in sessionStorage, so moving to the next packet keeps
   the same parts of the tree open, and the selected field is selected again when present. */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});
  const OPEN_KEY = "wirelens.expanded";
  const FIELD_KEY = "wirelens.field";

  const store = {
    get(key, fallback) {
      try {
        const value = sessionStorage.getItem(key);
        return value === null ? fallback : JSON.parse(value);
      } catch (err) { return fallback; }
    },
    set(key, value) {
      try { sessionStorage.setItem(key, JSON.stringify(value)); } catch (err) { /* storage off */ }
    },
  };

  const treeEl = () => document.querySelector("[data-tree]");
  const hexEl = () => document.querySelector("[data-hex]");
  let spans = null;     // the byte spans of the current bytes pane, by offset
  let lit = [];         // spans highlighted now
  let refocus = false;  // the tree had the focus when it was replaced

  function byteSpans() {
    const hex = hexEl();
    if (!hex) return null;
    if (spans && spans.root === hex) return spans;
    spans = { root: hex, hex: [], ascii: [] };
    for (const el of hex.querySelectorAll(".hex-bytes [data-o]")) spans.hex[Number(el.dataset.o)] = el;
    for (const el of hex.querySelectorAll(".hex-ascii [data-o]")) spans.ascii[Number(el.dataset.o)] = el;
    return spans;
  }

  function highlight(off, len) {
    for (const el of lit) el.classList.remove("hl");
    lit = [];
    const s = byteSpans();
    if (!s || !(off >= 0) || !(len > 0)) return;
    const end = Math.min(off + len, s.hex.length);
    for (let i = off; i < end; i++) {
      for (const el of [s.hex[i], s.ascii[i]]) {
        if (el) { el.classList.add("hl"); lit.push(el); }
      }
    }
    if (s.hex[off]) s.hex[off].scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  const labelOf = (node) => node.querySelector(":scope > .label");
  const visible = (el) => el.getClientRects().length > 0;

  function showField(node) {
    const box = document.querySelector("[data-field-status]");
    if (!box) return;
    const len = Number(node.dataset.len);
    box.textContent = node.dataset.off !== undefined && len > 0
      ? `${node.dataset.name} · ${len} byte${len === 1 ? "" : "s"} at offset ${node.dataset.off}`
      : node.dataset.name;
  }

  function select(node, { focus = false, remember = true } = {}) {
    const tree = node.closest("[data-tree]");
    for (const n of tree.querySelectorAll(".node.selected")) n.classList.remove("selected");
    node.classList.add("selected");
    for (let p = node.parentElement.closest("details"); p && tree.contains(p); p = p.parentElement.closest("details")) {
      p.open = true;
    }
    const label = labelOf(node);
    if (focus) label.focus({ preventScroll: true });
    label.scrollIntoView({ block: "nearest" });
    highlight(node.dataset.off === undefined ? -1 : Number(node.dataset.off), Number(node.dataset.len));
    showField(node);
    if (remember) store.set(FIELD_KEY, node.dataset.name);
  }

  /* The most specific field covering byte `o`: the shortest, and of equals the deepest. */
  function selectByte(o) {
    const tree = treeEl();
    if (!tree) return;
    let best = null;
    let bestLen = Infinity;
    for (const node of tree.querySelectorAll(".node[data-off]")) {
      const off = Number(node.dataset.off);
      const len = Number(node.dataset.len);
      if (len > 0 && off <= o && o < off + len && len <= bestLen) {
        best = node;   // document order: an equal-length later node is a descendant or later field
        bestLen = len;
      }
    }
    if (best) select(best);
  }

  function restore(tree) {
    const open = new Set(store.get(OPEN_KEY, []));
    for (const d of tree.querySelectorAll("details[data-name]")) {
      if (open.has(d.dataset.name)) d.open = true;
    }
    const name = store.get(FIELD_KEY, null);
    const node = name && tree.querySelector(`.node[data-name="${CSS.escape(name)}"]`);
    const pane = tree.closest("[data-pane]");
    // Only while the focus is still nowhere else: a key pressed meanwhile ("/" to the filter
    // box) must keep the focus it moved.
    const active = document.activeElement;
    if (active && active !== document.body && !(pane && pane.contains(active))) refocus = false;
    if (node && visible(labelOf(node))) select(node, { focus: refocus, remember: false });
    else if (refocus && pane) pane.focus({ preventScroll: true });
    refocus = false;
  }

  // Opening or closing a field (by mouse, keyboard or code) updates the remembered names.
  document.addEventListener("toggle", (e) => {
    const d = e.target;
    if (!(d instanceof HTMLDetailsElement) || !d.dataset.name || !d.closest("[data-tree]")) return;
    const open = new Set(store.get(OPEN_KEY, []));
    if (d.open) open.add(d.dataset.name);
    else open.delete(d.dataset.name);
    store.set(OPEN_KEY, [...open]);
  }, true);

  document.addEventListener("click", (e) => {
    if (!e.target.closest) return;
    const label = e.target.closest("[data-tree] .label");
    if (label) { select(label.parentElement, { focus: true }); return; }
    const byte = e.target.closest("[data-hex] [data-o]");
    if (byte) selectByte(Number(byte.dataset.o));
  });

  // Replacing the tree drops the focused label: remember to put the focus back in the tree.
  document.addEventListener("htmx:beforeSwap", (e) => {
    const target = e.detail.target;
    if (target && target.id === "tree-pane") {
      const active = document.activeElement;
      refocus = target.contains(active) && active !== target;
    }
  });

  htmx.onLoad((elt) => {
    const tree = elt.matches("[data-tree]") ? elt : elt.querySelector("[data-tree]");
    if (tree) restore(tree);
    // The bytes may arrive after the tree: light up the selected field in them too.
    const hex = elt.matches("[data-hex]") ? elt : elt.querySelector("[data-hex]");
    const selected = hex && document.querySelector("[data-tree] .node.selected");
    if (selected) highlight(selected.dataset.off === undefined ? -1 : Number(selected.dataset.off), Number(selected.dataset.len));
  });

  // -- keyboard moves inside the tree (keys.js) -------------------------------------------------
  function moveField(delta) {
    const tree = treeEl();
    if (!tree) return;
    const labels = [...tree.querySelectorAll(".label")].filter(visible);
    if (!labels.length) return;
    const at = labels.indexOf(tree.querySelector(".node.selected > .label"));
    const i = at < 0 ? (delta > 0 ? 0 : labels.length - 1) : Math.max(0, Math.min(labels.length - 1, at + delta));
    select(labels[i].parentElement, { focus: true });
  }

  function expand(open) {
    const tree = treeEl();
    const node = tree && tree.querySelector(".node.selected");
    if (!node) { moveField(1); return; }
    const isBranch = node.tagName === "DETAILS";
    if (isBranch && node.open !== open) { node.open = open; return; }
    if (open && isBranch) {
      const child = node.querySelector(":scope > .children > .node");
      if (child) select(child, { focus: true });
    } else if (!open) {
      const parent = node.parentElement.closest("details");
      if (parent && tree.contains(parent)) select(parent, { focus: true });
    }
  }

  W.tree = { moveField, expand };
})();
