/* Follow stream: hovering a packet link lights up the bytes that packet delivered, and hovering
   the text lights up its packet's link, so every chunk can be traced back to its packet. */
(function () {
  "use strict";
  let lit = [];

  function clear() {
    for (const el of lit) el.classList.remove("hl");
    lit = [];
  }

  document.addEventListener("mouseover", (e) => {
    const el = e.target.closest && e.target.closest("[data-stream] [data-number]");
    if (!el) { if (lit.length) clear(); return; }
    const run = el.closest(".run");
    if (lit.includes(el) || !run) return;
    clear();
    lit = [...run.querySelectorAll(`[data-number="${CSS.escape(el.dataset.number)}"]`)];
    for (const x of lit) x.classList.add("hl");
  });
})();
