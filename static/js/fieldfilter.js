/* "Apply as Filter" and "Prepare as Filter" for any field of the packet details, as in
   Wireshark: right-click a field (or press a / p on the selected one, Shift+F10 for the menu).
   The filter is "name == value", the value taken from the packet's JSON (the tree lists the
   same nodes in the same order) and quoted or not by the field's type in the server's registry;
   a field without a value (a protocol) gives just its name. Apply filters the list at once,
   Prepare puts the filter in the box (static/js/filterbar.js) without applying it. */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});
  const FIELDS_URL = "/api/filter/fields";
  const bar = () => W.filterBar;   // the filter box, on pages that have one
  const getJSON = (url) => fetch(url, { headers: { Accept: "application/json" } })
    .then((r) => r.json().then((body) => {
      if (!r.ok) throw new Error(body.error || `The request failed (${r.status}).`);
      return body;
    }));

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const STRINGS = new Set(["FT_STRING", "FT_STRINGZ", "FT_UINT_STRING", "FT_STRINGZPAD", "FT_STRINGZTRUNC",
    "FT_ABSOLUTE_TIME", "FT_CHAR"]);
  const details = new Map();   // packet url -> its JSON detail (promise)
  const types = new Map();     // field name -> its type (promise)

  const ESCAPES = { "\r": "\\r", "\n": "\\n", "\t": "\\t" };
  function quote(s) {
    return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g,
      (c) => ESCAPES[c] || `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}"`;
  }

  function literal(value, type) {
    if (value === null || value === undefined || type === "FT_NONE" || type === "FT_PROTOCOL") return null;
    if (typeof value === "boolean") return value ? "1" : "0";
    if (typeof value === "number") return String(value);
    return STRINGS.has(type) || !type ? quote(String(value)) : String(value);
  }

  function packetUrl(tree) {
    const main = document.querySelector("[data-capture]");
    const m = location.pathname.match(/\/captures\/([0-9a-f]+)/);
    const capture = (main && main.dataset.capture) || (m && m[1]);
    return capture && tree.dataset.number ? `/api/captures/${capture}/packets/${tree.dataset.number}` : null;
  }

  function flatten(nodes, out = []) {
    for (const n of nodes || []) { out.push(n); flatten(n.children, out); }
    return out;
  }

  /* "name == value" for a node of the tree: its value from the packet's JSON (the tree and the
     JSON list the same nodes in the same order), quoted or not by the field's type. */
  async function filterFor(node) {
    const tree = node.closest("[data-tree]");
    const name = node.dataset.name;
    const url = tree && packetUrl(tree);
    if (!name || !url) return null;
    if (!details.has(url)) details.set(url, getJSON(url));
    if (!types.has(name)) {
      types.set(name, getJSON(`${FIELDS_URL}?prefix=${encodeURIComponent(name)}&limit=1`)
        .then((b) => (b.fields[0] && b.fields[0].name === name ? b.fields[0].type : null)).catch(() => null));
    }
    const [detail, type] = await Promise.all([details.get(url), types.get(name)]);
    const all = flatten(detail.layers);
    const at = [...tree.querySelectorAll(".node")].indexOf(node);
    const json = all[at] && all[at].name === name ? all[at] : all.find((n) => n.name === name);
    const value = literal(json ? json.value : null, type);
    return value === null ? name : `${name} == ${value}`;
  }

  async function asFilter(node, apply) {
    let text;
    try { text = await filterFor(node); } catch (err) { if (W.flash) W.flash(err.message); return; }
    if (!text) return;
    const box = bar() && bar().box();
    if (box) { box.set(text, apply); return; }
    // The packet page has no filter box: open the capture with the filter applied.
    const m = location.pathname.match(/^\/captures\/([0-9a-f]+)/);
    if (m) location.assign(`/captures/${m[1]}?${new URLSearchParams({ filter: text })}`);
  }

  let menu = null;
  function closeMenu() { if (menu) { menu.remove(); menu = null; } }

  function openMenu(node, x, y) {
    closeMenu();
    menu = el("div", "ctx-menu");
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", `Field ${node.dataset.name}`);
    const items = [["Apply as Filter", true, "a"], ["Prepare as Filter", false, "p"]];
    for (const [label, apply, key] of items) {
      if (!apply && !(bar() && bar().box())) continue;
      const b = el("button", "", label);
      b.type = "button";
      b.setAttribute("role", "menuitem");
      b.append(el("kbd", "", key));
      b.addEventListener("click", () => { closeMenu(); asFilter(node, apply); });
      menu.append(b);
    }
    const preview = el("div", "ctx-field", node.dataset.name);
    menu.append(preview);
    // Show the filter itself once its value and type are known.
    const shown = menu;
    filterFor(node).then((text) => { if (text && menu === shown) preview.textContent = text; }).catch(() => {});
    document.body.append(menu);
    const r = menu.getBoundingClientRect();
    menu.style.left = `${Math.max(4, Math.min(x, innerWidth - r.width - 4))}px`;
    menu.style.top = `${Math.max(4, Math.min(y, innerHeight - r.height - 4))}px`;
    menu.querySelector("button").focus();
  }

  document.addEventListener("contextmenu", (e) => {
    const label = e.target.closest && e.target.closest("[data-tree] .label");
    if (!label || !label.parentElement.dataset.name) return;
    e.preventDefault();
    label.click();   // select it first, as a left click would
    openMenu(label.parentElement, e.clientX, e.clientY);
  });
  document.addEventListener("click", (e) => { if (menu && !menu.contains(e.target)) closeMenu(); });
  window.addEventListener("blur", closeMenu);

  document.addEventListener("keydown", (e) => {
    if (menu && e.key === "Escape") { e.preventDefault(); closeMenu(); return; }
    if (menu && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      const buttons = [...menu.querySelectorAll("button")];
      const i = buttons.indexOf(document.activeElement);
      buttons[(i + (e.key === "ArrowDown" ? 1 : -1) + buttons.length) % buttons.length].focus();
      e.preventDefault();
      return;
    }
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const pane = e.target.closest && e.target.closest("[data-pane='tree']");
    const node = pane && pane.querySelector("[data-tree] .node.selected");
    if (!node || !node.dataset.name) return;
    if (e.key === "a" || (e.key === "p" && bar() && bar().box())) {
      e.preventDefault();
      asFilter(node, e.key === "a");
    } else if (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey)) {
      e.preventDefault();
      const r = node.querySelector(".label").getBoundingClientRect();
      openMenu(node, r.left + 20, r.bottom);
    }
  });

  W.fieldFilter = { filterFor };
})();
