/* The live capture page. htmx's SSE extension appends the rows of each `rows` event to the
   table and swaps the progress line; this script:
   - keeps the newest row in view while the list is scrolled to its end, and stops following
     as soon as the user scrolls up (a button jumps back and follows again);
   - drops a row that is already shown (after a reload) and keeps at most MAX_ROWS rows;
   - on `resync` (the page fell behind its stream and the server dropped rows for it) reloads
     the newest rows, then goes on with the stream;
   - loads a clicked packet's tree and bytes into the lower panes;
   - on `done` shows that the capture has stopped, with a link to it (an upload followed while
     it was indexed opens as the capture page). */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});
  const MAX_ROWS = 5000;

  function setup() {
    const main = document.querySelector("main.live");
    const list = main && main.querySelector("[data-live-list]");
    if (!list) return;
    const tbody = list.querySelector("tbody");
    const followButton = main.querySelector("[data-follow]");
    const count = main.querySelector("[data-live-count]");
    let follow = true;
    let selected = null;

    const atEnd = () => list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const toEnd = () => { list.scrollTop = list.scrollHeight; };

    function setFollow(on) {
      follow = on;
      followButton.hidden = on;
      if (on) toEnd();
    }

    list.addEventListener("scroll", () => {
      if (atEnd()) { if (!follow) setFollow(true); }
      else if (follow) { follow = false; followButton.hidden = false; }
    }, { passive: true });
    followButton.addEventListener("click", () => setFollow(true));

    function tidy() {
      // Rows come in frame order, so a row not newer than the one before it is already shown
      // (the stream goes on after a reload of the newest rows, which may overlap it).
      let newest = 0;
      for (const tr of Array.from(tbody.children)) {
        const n = Number(tr.dataset.number) || 0;
        if (n <= newest) { tr.remove(); continue; }
        newest = n;
      }
      let extra = tbody.children.length - MAX_ROWS;
      while (extra-- > 0 && tbody.firstElementChild) {
        if (tbody.firstElementChild === selected) selected = null;
        tbody.firstElementChild.remove();
      }
      const last = tbody.lastElementChild;
      if (count && last) count.textContent = (Number(last.dataset.index) + 1).toLocaleString("en-US");
    }

    main.addEventListener("htmx:sseBeforeMessage", (e) => {
      const source = e.target;
      if (source.matches("[data-live-resync]")) {
        e.preventDefault();
        htmx.ajax("GET", main.dataset.rowsUrl, { target: tbody, swap: "innerHTML" }).then(() => {
          tidy();
          if (follow) toEnd();
        });
      } else if (source.matches("[data-live-done]")) {
        e.preventDefault();
        // An upload that finished indexing opens as the ordinary capture page at once.
        if (main.dataset.status === "indexing") { window.location.assign(main.dataset.captureUrl); return; }
        main.querySelector("[data-live-ended]").hidden = false;
        const stop = document.querySelector("[data-live-stop]");
        if (stop) stop.hidden = true;
      } else if (source === tbody) {
        follow = follow && atEnd();
      }
    });
    main.addEventListener("htmx:sseMessage", (e) => {
      if (e.target !== tbody) return;
      tidy();
      if (follow) toEnd();
    });

    // A click on a row shows its packet below (the rows' links lead to the capture page, which
    // lists the packets once the capture has stopped).
    list.addEventListener("click", (e) => {
      const tr = e.target.closest("tbody tr[data-number]");
      if (!tr) return;
      e.preventDefault();
      if (selected) selected.classList.remove("selected");
      selected = tr;
      tr.classList.add("selected");
      htmx.ajax("GET", main.dataset.detailUrl + tr.dataset.number, { target: "#tree-pane", swap: "innerHTML" });
    });

    tidy();
    toEnd();
    W.live = { follow: () => follow, setFollow };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
