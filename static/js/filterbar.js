/* The display-filter box, checked while typing: red when the server cannot compile it (with its
   message and a caret under the place it broke), yellow when valid but probably not what was
   meant (the server's warnings), green when valid. Field and protocol names are completed from
   the server's field registry; filters that were applied are remembered (localStorage) and
   offered, most recent first, in an empty box. Everything is written with textContent. */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});
  const CHECK_URL = "/api/filter/check";
  const FIELDS_URL = "/api/filter/fields";
  const RECENT_KEY = "wirelens.recentFilters";
  const RECENT_MAX = 12;
  const DELAY = 250;
  const TOKEN = /[A-Za-z_][A-Za-z0-9_.-]*$/;

  const recent = {
    list() {
      try {
        const value = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
        return Array.isArray(value) ? value.filter((s) => typeof s === "string") : [];
      } catch (err) { return []; }
    },
    add(text) {
      text = (text || "").trim();
      if (!text) return;
      const list = [text, ...this.list().filter((s) => s !== text)].slice(0, RECENT_MAX);
      try { localStorage.setItem(RECENT_KEY, JSON.stringify(list)); } catch (err) { /* storage off */ }
    },
  };

  const getJSON = (url, signal) => fetch(url, { signal, headers: { Accept: "application/json" } })
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

  class FilterBox {
    constructor(input) {
      this.input = input;
      this.form = input.form;
      this.seq = 0;
      this.suggestSeq = 0;
      this.dormant = false;   // true after an apply, until the next keystroke or focus
      this.items = [];
      this.active = -1;
      this.timer = 0;
      this.pop = el("div", "filter-pop");
      this.pop.hidden = true;
      this.hint = el("div", "filter-hint");
      this.hint.setAttribute("role", "status");
      this.hint.dataset.filterHint = "";
      this.list = el("ul", "filter-suggest");
      this.list.id = `${input.id || "filter"}-suggestions`;
      this.list.setAttribute("role", "listbox");
      this.list.setAttribute("aria-label", "Suggestions");
      this.pop.append(this.hint, this.list);
      this.form.append(this.pop);
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-controls", this.list.id);
      input.setAttribute("aria-expanded", "false");

      input.addEventListener("input", () => { this.dormant = false; this.schedule(); });
      input.addEventListener("focus", () => { this.dormant = false; this.schedule(0); });
      input.addEventListener("blur", () => { setTimeout(() => { if (document.activeElement !== input) this.close(); }, 150); });
      input.addEventListener("keydown", (e) => this.onKey(e));
      // A click on a suggestion must not take the focus from the box first.
      this.list.addEventListener("mousedown", (e) => e.preventDefault());
      this.list.addEventListener("click", (e) => {
        const li = e.target.closest("li[data-i]");
        if (li) this.accept(Number(li.dataset.i));
      });
      // Once applied, the box only shows its colour: no list over the packets until more typing.
      this.form.addEventListener("submit", () => {
        clearTimeout(this.timer);
        this.suggestSeq++;
        this.dormant = true;
        this.close();
        this.check(input.value);
      });
      if (input.value.trim()) this.check(input.value, { quiet: true });
    }

    schedule(delay = DELAY) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.check(this.input.value);
        this.suggest();
      }, delay);
    }

    /* Colour the box from the server's verdict; explain it while the box has the focus. */
    check(text, { quiet = false } = {}) {
      const seq = ++this.seq;
      if (this.checking) this.checking.abort();
      if (!text.trim()) { this.show("", null); return; }
      this.checking = new AbortController();
      getJSON(`${CHECK_URL}?filter=${encodeURIComponent(text)}`, this.checking.signal)
        .then((body) => {
          if (seq !== this.seq) return;
          if (!body.valid) this.show("invalid", { message: body.error, position: body.position, length: body.length }, quiet);
          else if (body.warnings && body.warnings.length) this.show("warning", body.warnings[0], quiet);
          else this.show("valid", null, quiet);
        })
        .catch((err) => { if (err.name !== "AbortError" && W.flash) W.flash(err.message); });
    }

    show(state, problem, quiet) {
      const input = this.input;
      if (state) input.dataset.state = state;
      else delete input.dataset.state;
      this.hint.replaceChildren();
      this.hint.className = `filter-hint ${state}`;
      if (problem && problem.message) {
        this.hint.append(el("div", "hint-message", (state === "invalid" ? "Invalid filter: " : "Warning: ") + problem.message));
        if (Number.isInteger(problem.position)) {
          // The filter and a caret under where it broke, as tshark prints it.
          const text = input.value.replace(/\s/g, " ");
          const pos = Math.min(problem.position, text.length);
          const len = Math.max(1, Math.min(problem.length || 1, text.length - pos || 1));
          const pre = el("pre", "hint-caret");
          pre.append(el("span", "", text), "\n", el("span", "caret", " ".repeat(pos) + "^" + "~".repeat(len - 1)));
          this.hint.append(pre);
        }
      }
      this.hint.hidden = !this.hint.childNodes.length;
      if (!quiet) this.update();
    }

    /* Names completing the word at the caret; recent filters in an empty box. */
    suggest() {
      const input = this.input;
      const before = input.value.slice(0, input.selectionStart ?? input.value.length);
      if (!input.value.trim()) {
        this.setItems(recent.list().map((text) => ({ kind: "recent", text, insert: text, whole: true })));
        return;
      }
      const m = before.match(TOKEN);
      if (!m || /[0-9]/.test(before[m.index - 1] || "")) { this.setItems([]); return; }
      const word = m[0];
      const seq = ++this.suggestSeq;
      getJSON(`${FIELDS_URL}?prefix=${encodeURIComponent(word)}&limit=12`)
        .then((body) => {
          if (seq !== this.suggestSeq || this.dormant || document.activeElement !== input) return;
          const fields = body.fields.filter((f) => f.name !== word || body.fields.length > 1);
          this.setItems(fields.map((f) => ({ kind: "field", text: f.name, note: f.description, insert: f.name, word })));
        })
        .catch(() => this.setItems([]));
    }

    setItems(items) {
      this.items = items;
      this.active = -1;
      this.list.replaceChildren();
      items.forEach((item, i) => {
        const li = el("li", `suggestion ${item.kind}`);
        li.id = `${this.list.id}-${i}`;
        li.dataset.i = i;
        li.setAttribute("role", "option");
        li.append(el("span", "name", item.text));
        if (item.kind === "recent") li.append(el("span", "note", "recent"));
        else if (item.note) li.append(el("span", "note", item.note));
        this.list.append(li);
      });
      this.update();
    }

    update() {
      const open = !this.dormant && document.activeElement === this.input &&
        (this.items.length > 0 || !this.hint.hidden);
      this.list.hidden = !this.items.length;
      this.pop.hidden = !open;
      this.input.setAttribute("aria-expanded", String(open && this.items.length > 0));
      // Line the box up under the input (CSSOM: allowed by the page's Content-Security-Policy).
      this.pop.style.left = `${this.input.offsetLeft}px`;
      this.pop.style.minWidth = `${Math.min(this.input.offsetWidth, 640)}px`;
    }

    close() {
      this.items = [];
      this.active = -1;
      this.list.replaceChildren();
      this.pop.hidden = true;
      this.input.setAttribute("aria-expanded", "false");
    }

    highlight(i) {
      this.active = i;
      for (const li of this.list.children) li.setAttribute("aria-selected", String(Number(li.dataset.i) === i));
      const li = this.list.children[i];
      if (li) { li.scrollIntoView({ block: "nearest" }); this.input.setAttribute("aria-activedescendant", li.id); }
      else this.input.removeAttribute("aria-activedescendant");
    }

    accept(i) {
      const item = this.items[i];
      if (!item) return;
      const input = this.input;
      if (item.whole) {
        input.value = item.insert;
      } else {
        const caret = input.selectionStart ?? input.value.length;
        const start = caret - item.word.length;
        input.value = input.value.slice(0, start) + item.insert + input.value.slice(caret);
        input.setSelectionRange(start + item.insert.length, start + item.insert.length);
      }
      this.close();
      input.focus();
      this.check(input.value);
    }

    onKey(e) {
      const open = !this.pop.hidden && this.items.length > 0;
      if (e.key === "ArrowDown" && !open && !this.input.value.trim()) {
        this.suggest();
        e.preventDefault();
        return;
      }
      if (!open) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        const n = this.items.length;
        this.highlight(e.key === "ArrowDown" ? (this.active + 1) % n : (this.active - 1 + n) % n);
      } else if ((e.key === "Enter" || e.key === "Tab") && this.active >= 0) {
        this.accept(this.active);
      } else if (e.key === "Escape") {
        this.close();   // the first Escape closes the list; the next one returns to the packets
      } else {
        return;
      }
      e.preventDefault();
    }

    /* Put a filter in the box (Prepare as Filter), optionally applying it at once. */
    set(text, apply) {
      this.input.value = text;
      if (apply) {
        this.close();
        this.form.requestSubmit();
        return;
      }
      this.dormant = false;
      this.input.focus();
      this.input.setSelectionRange(text.length, text.length);
      this.check(text);
    }
  }

  let box = null;

  function init() {
    const input = document.querySelector("input#filter");
    if (input && input.form && !input.filterBox) box = input.filterBox = new FilterBox(input);
    remember();
  }

  /* A filter the page shows as applied (no error next to it) joins the recent ones. */
  function remember() {
    const input = document.querySelector("input#filter");
    const error = document.getElementById("filter-error");
    const applied = new URL(location.href).searchParams.get("filter");
    if (input && applied && applied.trim() === input.value.trim() && (!error || error.hidden)) recent.add(applied);
  }

  /* The views of the capture (Flows, Flow graph...) carry the filter the list now shows. */
  function keepFilterInLinks() {
    const applied = new URL(location.href).searchParams.get("filter");
    for (const a of document.querySelectorAll("a[data-keep-filter]")) {
      const url = new URL(a.getAttribute("href"), location.href);
      if (applied) url.searchParams.set("filter", applied); else url.searchParams.delete("filter");
      a.setAttribute("href", url.pathname + url.search);
    }
  }

  document.addEventListener("htmx:pushedIntoHistory", () => { keepFilterInLinks(); remember(); });
  document.addEventListener("htmx:afterSettle", (e) => {
    if (e.detail.target && e.detail.target.id === "list-pane") remember();
  });

  // static/js/fieldfilter.js puts fields of the packet details in the box through this.
  W.filterBar = { recent, box: () => box };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
