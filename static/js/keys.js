/* Keyboard of the capture page: arrows and j/k move the packet selection (in the details pane the
   arrows walk the tree instead), g/G first/last packet, PgUp/PgDn a screen, Tab cycles the three
   panes, "/" edits the filter, "?" shows the list of keys. */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});

  const panes = () => [...document.querySelectorAll("[data-pane]")];
  const TYPING = "input, textarea, select, [contenteditable]";

  function showHelp() {
    const dialog = document.getElementById("key-help");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function focusList() {
    const list = W.list && W.list();
    if (list) list.focus();
  }

  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest("[data-open-help]")) showHelp();
  });

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const target = e.target instanceof Element ? e.target : document.body;
    if (target.closest(TYPING)) {
      if (e.key === "Escape" && target.id === "filter") { e.preventDefault(); focusList(); }
      return;
    }
    if (document.querySelector("dialog[open]")) return;   // the dialog keeps its own keys

    const pane = panes().find((p) => p.contains(target));
    const inTree = Boolean(pane && pane.dataset.pane === "tree");
    const list = W.list && W.list();
    const tree = W.tree;
    let done = true;

    switch (e.key) {
      case "/": {
        const input = document.getElementById("filter");
        if (!input) { done = false; break; }
        input.focus();
        input.select();
        break;
      }
      case "?":
        showHelp();
        break;
      case "Tab": {
        const all = panes();
        // Only between panes: from a link or button elsewhere Tab keeps its usual meaning.
        if (!all.length || (!pane && target !== document.body)) { done = false; break; }
        const at = all.indexOf(pane);
        const step = e.shiftKey ? -1 : 1;
        const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : (at + step + all.length) % all.length;
        all[next].focus();
        break;
      }
      case "j":
        if (list) list.move(1); else done = false;
        break;
      case "k":
        if (list) list.move(-1); else done = false;
        break;
      case "ArrowDown":
      case "ArrowUp": {
        const delta = e.key === "ArrowDown" ? 1 : -1;
        if (inTree && tree) tree.moveField(delta);
        else if (list) list.move(delta);
        else done = false;
        break;
      }
      case "ArrowRight":
      case "ArrowLeft":
        if (inTree && tree) tree.expand(e.key === "ArrowRight"); else done = false;
        break;
      case "g":
        if (list) list.first(); else done = false;
        break;
      case "G":
        if (list) list.last(); else done = false;
        break;
      case "Home":
      case "End":
        if (list && !inTree) { if (e.key === "Home") list.first(); else list.last(); } else done = false;
        break;
      case "PageDown":
      case "PageUp":
        if (list && !inTree) list.screen(e.key === "PageDown" ? 1 : -1); else done = false;
        break;
      default:
        done = false;
    }
    if (done) e.preventDefault();
  });
})();
