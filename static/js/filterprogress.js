/* While a filter is being applied, say what takes the time: a field the index lacks
   (http.user_agent ...) is read from the packets once, and that can take a while on a big
   capture. The server reports that pass at /api/captures/{id}/extraction. */
(() => {
  "use strict";
  const EVERY = 400;

  function init() {
    const main = document.querySelector("main[data-capture]");
    const form = document.getElementById("filter-form");
    const busy = form && form.querySelector(".busy");
    if (!main || !busy) return;
    const url = `/api/captures/${encodeURIComponent(main.dataset.capture)}/extraction`;
    const idle = busy.textContent;
    let timer = null;

    async function poll() {
      try {
        const r = await fetch(url, { headers: { Accept: "application/json" } });
        if (r.ok) {
          const p = await r.json();
          if (p.running && p.total) {
            const pct = Math.floor((100 * p.done) / p.total);
            busy.textContent = `Reading ${p.field} from ${p.total.toLocaleString()} packets… ${pct}%`;
          }
        }
      } catch (e) { /* the filter request itself reports failures */ }
      if (timer !== null) timer = setTimeout(poll, EVERY);
    }

    document.addEventListener("htmx:beforeRequest", (e) => {
      if (e.detail.elt !== form) return;
      clearTimeout(timer);
      timer = setTimeout(poll, EVERY);
    });
    document.addEventListener("htmx:afterRequest", (e) => {
      if (e.detail.elt !== form) return;
      clearTimeout(timer);
      timer = null;
      busy.textContent = idle;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
