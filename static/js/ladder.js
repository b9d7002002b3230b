/* Ladder diagrams: ↓/j and ↑/k walk the arrows (the focus moves to the next arrow's link), g/G the
   first and last, Enter opens the focused arrow's packet. The selected or hovered arrow's
   explanation is highlighted in the list beside the diagram, and shown in the status line.
   Every arrow is a plain link, so the page works without this file. */
(function () {
  "use strict";

  const TYPING = "input, textarea, select, [contenteditable]";
  const arrows = () => [...document.querySelectorAll("svg.ladder a.ev")];
  const hrefOf = (a) => a.getAttribute("href") || a.getAttribute("xlink:href");
  let current = null;
  let lit = null;

  function explanation(number) {
    return document.getElementById(`ev-${number}`);
  }

  function light(number) {
    if (lit) lit.classList.remove("current");
    lit = explanation(number);
    if (!lit) return;
    lit.classList.add("current");
    const list = lit.closest(".explain");
    if (list) {
      // Scroll only the explanation list, not the page.
      const top = lit.offsetTop - list.offsetTop;
      if (top < list.scrollTop + 30 || top + lit.offsetHeight > list.scrollTop + list.clientHeight) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 3);
      }
    }
  }

  function say(a) {
    const status = document.querySelector("[data-ladder-status]");
    const title = a.querySelector("title");
    if (status && title) status.textContent = title.textContent;
  }

  function select(a, { focus = false } = {}) {
    if (current && current !== a) current.classList.remove("current");
    current = a;
    a.classList.add("current");
    if (focus) {
      a.focus({ preventScroll: true });
      a.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    light(a.dataset.number);
    say(a);
  }

  function move(delta) {
    const all = arrows();
    if (!all.length) return;
    let i = all.indexOf(current);
    if (i < 0) i = delta > 0 ? -1 : all.length;
    select(all[Math.max(0, Math.min(all.length - 1, i + delta))], { focus: true });
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const target = e.target instanceof Element ? e.target : document.body;
    if (target.closest(TYPING) || document.querySelector("dialog[open]")) return;
    const all = arrows();
    if (!all.length) return;
    switch (e.key) {
      case "ArrowDown": case "j": move(1); break;
      case "ArrowUp": case "k": move(-1); break;
      case "g": select(all[0], { focus: true }); break;
      case "G": select(all[all.length - 1], { focus: true }); break;
      case "Enter": {
        const a = target.closest("svg.ladder a.ev");
        if (!a) return;
        location.assign(hrefOf(a));
        break;
      }
      default: return;
    }
    e.preventDefault();
  });

  document.addEventListener("focusin", (e) => {
    const a = e.target.closest && e.target.closest("svg.ladder a.ev");
    if (a && a !== current) select(a);
  });

  // Hovering an arrow or an explanation lights up the other.
  document.addEventListener("mouseover", (e) => {
    if (!e.target.closest) return;
    const a = e.target.closest("svg.ladder a.ev");
    if (a) { light(a.dataset.number); say(a); return; }
    const li = e.target.closest("[data-explanations] li[data-number]");
    if (!li) return;
    for (const other of arrows()) {
      other.classList.toggle("current", other.dataset.number === li.dataset.number || other === current);
    }
  });

  // Clicking an explanation (not its link) selects its arrow.
  document.addEventListener("click", (e) => {
    if (!e.target.closest || e.target.closest("a")) return;
    const li = e.target.closest("[data-explanations] li[data-number]");
    if (!li) return;
    const a = arrows().find((x) => x.dataset.number === li.dataset.number);
    if (a) select(a, { focus: true });
  });
})();
