/* The packet list of the capture page: a virtual table that holds only the rows near the
   viewport, fetched a page at a time from the JSON API while scrolling, so a capture of millions
   of packets scrolls like a small one. Also the selected packet: its row, the URL, the status bar
   and the loading of its tree and bytes (an htmx request into the two lower panes).

   Rows have one fixed height (CSS --row-h), so row i sits at i * rowH. Browsers cap element
   heights, so beyond MAX_HEIGHT the scroll range is cut into virtual pages (as SlickGrid does):
   scrolling inside a page is 1:1, a jump of the scrollbar thumb maps proportionally. */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});

  const MAX_HEIGHT = 6e6;   // px of scrollable content at most
  const PAGE = 100;         // rows per request
  const OVERSCAN = 30;      // rows rendered beyond each edge of the viewport
  const KEEP = 250;         // rows kept in memory beyond each edge of the rendered ones
  const COLOR = /^c-[a-z0-9-]+$/;
  const fmt = (n) => n.toLocaleString("en-US");

  let current = null;

  function spacer() {
    const tr = document.createElement("tr");
    tr.className = "spacer";
    tr.setAttribute("aria-hidden", "true");
    const td = document.createElement("td");
    td.colSpan = 7;
    tr.append(td);
    return tr;
  }

  function setHeight(tr, px) {
    tr.hidden = px <= 0;
    tr.style.height = `${px}px`;   // CSSOM, allowed by the page's Content-Security-Policy
  }

  function cell(cls, content, titled) {
    const td = document.createElement("td");
    td.className = cls;
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    if (titled) td.title = content;
    return td;
  }

  class PacketList {
    constructor(el) {
      this.el = el;
      this.tbody = el.querySelector("tbody");
      this.thead = el.querySelector("thead");
      const d = el.dataset;
      this.rowsUrl = d.rowsUrl;
      this.detailUrl = d.detailUrl;
      this.pageUrl = d.pageUrl;
      this.filter = d.filter || "";
      this.total = Number(d.total) || 0;
      this.matched = Number(d.matched) || 0;
      this.rowH = parseFloat(getComputedStyle(el).getPropertyValue("--row-h")) || 20;
      this.rows = new Map();       // row index -> <tr>, only near the viewport
      this.inflight = new Map();   // page number -> AbortController
      this.selected = -1;
      this.pending = -1;           // a selected row whose page is still loading
      this.range = [0, 0];         // rendered rows [first, last)
      this.visible = [0, 0];
      this.top = 0;                // the scroller's scrollTop as last seen or set
      this.page = 0;
      this.offset = 0;
      if (!this.matched) return;   // an empty list or a filter error: the server's message stays

      for (const tr of this.tbody.querySelectorAll("tr[data-index]")) {
        this.rows.set(Number(tr.dataset.index), tr);
      }
      this.topSpacer = spacer();
      this.bottomSpacer = spacer();
      this.geometry();
      el.addEventListener("scroll", () => this.onScroll(), { passive: true });
      el.addEventListener("click", (e) => this.onClick(e));
      this.resizes = new ResizeObserver(() => {
        if (!this.el.isConnected) return;   // replaced by a filtered list: it resized to nothing
        this.geometry();
        this.scrollTo(this.top + this.offset);
      });
      this.resizes.observe(el);

      if (d.selectedIndex !== undefined) {
        const index = Number(d.selectedIndex);
        const tree = document.querySelector("#tree-pane [data-tree]");
        const shown = tree && this.rows.get(index) && tree.dataset.number === this.rows.get(index).dataset.number;
        this.ensureVisible(index, "center");
        this.select(index, { scroll: false, load: !shown });
      } else {
        this.scrollTo((Number(d.offset) || 0) * this.rowH);
      }
    }

    geometry() {
      this.vh = Math.max(this.rowH, this.el.clientHeight - this.thead.offsetHeight);
      this.th = this.matched * this.rowH;
      this.h = Math.min(this.th, MAX_HEIGHT);
      this.ph = this.h / 100;
      this.n = Math.max(1, Math.ceil(this.th / this.ph));
      this.cj = this.n > 1 ? (this.th - this.h) / (this.n - 1) : 0;
    }

    /* Put virtual position y (px from the first row) at the top of the viewport. */
    scrollTo(y) {
      y = Math.max(0, Math.min(y, this.th - this.vh));
      this.page = Math.min(this.n - 1, Math.floor(y / this.ph)) || 0;
      this.offset = Math.round(this.page * this.cj);
      this.top = y - this.offset;
      this.render();   // first, so the content is tall enough for the new scrollTop
      if (Math.abs(this.el.scrollTop - this.top) >= 1) this.el.scrollTop = this.top;
    }

    onScroll() {
      const st = this.el.scrollTop;
      const dist = Math.abs(st - this.top);
      if (dist < 1) return;
      if (dist < this.vh) {
        this.scrollTo(st + this.offset);   // a small step: stay on the virtual page
        return;
      }
      // A jump (the thumb was dragged): map the position proportionally.
      this.page = this.h > this.vh
        ? Math.min(this.n - 1, Math.floor(st * ((this.th - this.vh) / (this.h - this.vh)) / this.ph))
        : 0;
      this.offset = Math.round(this.page * this.cj);
      this.top = st;
      this.render();
    }

    render(force) {
      const R = this.rowH;
      const y = this.top + this.offset;
      this.visible = [Math.min(this.matched, Math.floor(y / R)), Math.min(this.matched, Math.ceil((y + this.vh) / R))];
      const first = Math.max(0, this.visible[0] - OVERSCAN, Math.floor(this.offset / R));
      const last = Math.min(this.matched, this.visible[1] + OVERSCAN);
      this.updatePosition();
      if (!force && first === this.range[0] && last === this.range[1]) return;
      this.range = [first, last];
      const rows = [];
      for (let i = first; i < last; i++) rows.push(this.rows.get(i) || this.pendingRow(i));
      const above = Math.max(0, first * R - this.offset);
      setHeight(this.topSpacer, above);
      setHeight(this.bottomSpacer, Math.max(0, this.h - above - (last - first) * R));
      this.tbody.replaceChildren(this.topSpacer, ...rows, this.bottomSpacer);
      this.scheduleFetch();
    }

    pendingRow(i) {
      const tr = document.createElement("tr");
      tr.className = "pending";
      tr.dataset.index = i;
      tr.append(cell("pending", ""));
      tr.firstChild.colSpan = 7;
      return tr;
    }

    updatePosition() {
      const box = this.el.parentElement && this.el.parentElement.querySelector("[data-position]");
      if (!box) return;
      const [a, b] = this.visible;
      box.textContent = `Rows ${fmt(Math.min(a + 1, b))}–${fmt(b)} of ${fmt(this.matched)}`;
    }

    scheduleFetch() {
      clearTimeout(this.fetchTimer);
      this.fetchTimer = setTimeout(() => this.fetchMissing(), 40);
    }

    fetchMissing() {
      if (!this.el.isConnected) return;
      const [first, last] = this.range;
      const lo = Math.max(0, first - PAGE / 2);
      const hi = Math.min(this.matched, last + PAGE / 2);
      const wanted = new Set();
      for (let p = Math.floor(lo / PAGE); p * PAGE < hi; p++) wanted.add(p);
      if (this.pending >= 0) wanted.add(Math.floor(this.pending / PAGE));
      for (const [p, ctl] of this.inflight) {
        if (!wanted.has(p)) { ctl.abort(); this.inflight.delete(p); }
      }
      for (const p of wanted) {
        if (this.inflight.has(p)) continue;
        const end = Math.min(this.matched, (p + 1) * PAGE);
        for (let i = p * PAGE; i < end; i++) {
          if (!this.rows.has(i)) { this.fetchPage(p); break; }
        }
      }
      this.evict();
    }

    fetchPage(p) {
      const ctl = new AbortController();
      this.inflight.set(p, ctl);
      const url = new URL(this.rowsUrl, location.href);
      url.searchParams.set("offset", p * PAGE);
      url.searchParams.set("limit", PAGE);
      if (this.filter) url.searchParams.set("filter", this.filter);
      fetch(url, { signal: ctl.signal, headers: { Accept: "application/json" } })
        .then(async (response) => {
          const body = await response.json().catch(() => ({}));
          if (!response.ok) throw new Error(body.error || `Loading packets failed (${response.status}).`);
          return body;
        })
        .then((body) => {
          if (this.inflight.get(p) !== ctl) return;
          this.inflight.delete(p);
          if (!this.el.isConnected) return;
          body.packets.forEach((row, k) => this.rows.set(body.offset + k, this.buildRow(row, body.offset + k)));
          this.render(true);
          this.applyPending();
        })
        .catch((err) => {
          if (err.name === "AbortError") return;
          this.inflight.delete(p);
          W.flash(err.message);
        });
    }

    evict() {
      const [first, last] = this.range;
      if (this.rows.size <= last - first + 2 * KEEP) return;
      for (const i of this.rows.keys()) {
        if (i < first - KEEP || i >= last + KEEP) this.rows.delete(i);
      }
    }

    /* The same markup as templates/partials/rows.html, built with textContent only. */
    buildRow(row, index) {
      const tr = document.createElement("tr");
      tr.className = COLOR.test(row.color || "") ? row.color : "c-default";
      if (index === this.selected) {
        tr.classList.add("selected");
        tr.setAttribute("aria-selected", "true");
      }
      tr.dataset.index = index;
      tr.dataset.number = row.number;
      const link = document.createElement("a");
      link.href = this.packetHref(row.number);
      link.tabIndex = -1;
      link.textContent = row.number;
      tr.append(
        cell("no", link), cell("time", Number(row.time).toFixed(6)),
        cell("addr", row.source), cell("addr", row.destination), cell("proto", row.protocol),
        cell("len", String(row.length)), cell("info", row.info, true),
      );
      return tr;
    }

    packetHref(number) {
      const url = new URL(this.pageUrl, location.href);
      if (this.filter) url.searchParams.set("filter", this.filter);
      url.searchParams.set("packet", number);
      return url.pathname + url.search;
    }

    onClick(e) {
      const tr = e.target.closest("tr[data-index]");
      if (!tr || !this.tbody.contains(tr)) return;
      if (e.target.closest("a")) {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;   // open the link as asked
        e.preventDefault();
      }
      this.select(Number(tr.dataset.index), { scroll: false });
      this.el.focus({ preventScroll: true });
    }

    select(index, { scroll = true, load = true } = {}) {
      if (!this.matched) return;
      index = Math.max(0, Math.min(this.matched - 1, index));
      const old = this.rows.get(this.selected);
      if (old) { old.classList.remove("selected"); old.removeAttribute("aria-selected"); }
      this.selected = index;
      if (scroll) this.ensureVisible(index);
      const tr = this.rows.get(index);
      if (!tr) {
        this.pending = load ? index : -1;
        this.scheduleFetch();
        return;
      }
      this.pending = -1;
      tr.classList.add("selected");
      tr.setAttribute("aria-selected", "true");
      this.showPacket(Number(tr.dataset.number), load);
    }

    applyPending() {
      if (this.pending >= 0 && this.rows.has(this.pending)) this.select(this.pending, { scroll: false });
    }

    ensureVisible(index, where) {
      const R = this.rowH;
      const top = index * R;
      const y = this.top + this.offset;
      if (where === "center") this.scrollTo(top - (this.vh - R) / 2);
      else if (top < y) this.scrollTo(top);
      else if (top + R > y + this.vh) this.scrollTo(top + R - this.vh);
    }

    /* The selected packet: status bar, URL (bookmarkable), filter form, then its detail. */
    showPacket(number, load) {
      const status = document.querySelector("[data-selected-status]");
      if (status) status.textContent = `Selected: packet ${fmt(number)}`;
      const hidden = document.querySelector("[data-selected-packet]");
      if (hidden) hidden.value = number;
      history.replaceState(history.state, "", this.packetHref(number));
      if (!load) return;
      clearTimeout(this.detailTimer);
      // A short delay: holding j down asks only for the packets it stops on.
      this.detailTimer = setTimeout(() => {
        const tree = document.querySelector("#tree-pane [data-tree]");
        if (tree && Number(tree.dataset.number) === number) return;
        htmx.ajax("GET", this.detailUrl + number, { target: "#tree-pane", swap: "innerHTML" });
      }, 40);
    }

    // -- moves used by the keyboard (keys.js) and the page controls --------------------------
    move(delta) {
      const from = this.selected < 0 ? this.visible[0] - (delta > 0 ? 1 : -1) : this.selected;
      this.select(from + delta);
    }
    first() { this.select(0); }
    last() { this.select(this.matched - 1); }
    screen(direction) { this.move(direction * Math.max(1, Math.floor(this.vh / this.rowH) - 1)); }
    scrollScreen(direction) { this.scrollTo(this.top + this.offset + direction * this.vh); }
    focus() { this.el.focus({ preventScroll: true }); }

    /* A new list replaced this one (a filter was applied): stop its observer and requests. */
    destroy() {
      if (this.resizes) this.resizes.disconnect();
      clearTimeout(this.fetchTimer);
      clearTimeout(this.detailTimer);
      for (const ctl of this.inflight.values()) ctl.abort();
      this.inflight.clear();
    }
  }

  W.list = () => (current && current.el.isConnected ? current : null);

  /* The filter box shows whether the applied filter was refused (the message is in the list). */
  function syncFilterBox(scope) {
    const error = scope.querySelector("[data-filter-error]");
    const input = document.getElementById("filter");
    if (!error || !input) return;
    if (error.dataset.filterError) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  htmx.onLoad((elt) => {
    const el = elt.matches("[data-packet-list]") ? elt : elt.querySelector("[data-packet-list]");
    if (el && !el.wirelensList) {
      if (current) current.destroy();
      el.wirelensList = current = new PacketList(el);
    }
    if (elt.querySelector("[data-filter-error]") || elt.matches("[data-filter-error]")) {
      syncFilterBox(elt.parentElement || elt);
    }
  });

  // Page controls and "go to packet": links and a form that work without JavaScript; here they
  // move the virtual list instead of loading another page.
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("[data-page]");
    const list = W.list();
    if (!link || !list || !list.matched || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    const action = link.dataset.page;
    if (action === "first") list.first();
    else if (action === "last") list.last();
    else list.scrollScreen(action === "next" ? 1 : -1);
  });
  document.addEventListener("submit", (e) => {
    const form = e.target.closest && e.target.closest("[data-goto]");
    const list = W.list();
    if (!form || !list || list.filter) return;   // with a filter the server finds the row
    const number = Number(new FormData(form).get("packet"));
    if (!(number >= 1 && number <= list.matched)) return;
    e.preventDefault();
    list.ensureVisible(number - 1, "center");
    list.select(number - 1, { scroll: false });
    list.focus();
  });
})();
