/* The library page: upload by drag-and-drop or file picker with a progress bar (XHR, for its
   upload progress events), then follow the new capture's indexing until its page opens; and
   remove a table row once its capture is deleted. */
(function () {
  "use strict";
  const W = window.Wirelens;
  // Uploads above this size open the live page, which streams the first rows while indexing.
  const BIG_UPLOAD = 8 * 1000 * 1000;

  function human(n) {
    const units = ["bytes", "kB", "MB", "GB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return i ? `${n.toFixed(1)} ${units[i]}` : `${n} bytes`;
  }

  function setup() {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const input = document.getElementById("upload-file");
    const box = document.getElementById("upload-progress");
    const bar = box.querySelector("[data-upload-bar]");
    const text = box.querySelector("[data-upload-text]");
    const name = box.querySelector("[data-upload-name]");
    const status = document.getElementById("upload-status");

    function fail(message) {
      box.classList.add("error");
      text.textContent = message;
    }

    function upload(file) {
      const data = new FormData();
      data.append("file", file, file.name);
      box.hidden = false;
      box.classList.remove("error");
      name.textContent = file.name;
      bar.value = 0;
      text.textContent = "Uploading…";
      status.replaceChildren();

      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.api);
      xhr.setRequestHeader("Accept", "application/json");
      const csrf = document.querySelector('meta[name="csrf-token"]');
      if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf.content);
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        bar.value = e.loaded / e.total;
        text.textContent = `${Math.round(100 * e.loaded / e.total)}% · ${human(e.loaded)} of ${human(e.total)}`;
      });
      xhr.addEventListener("load", () => {
        if (xhr.status !== 201) { fail(W.errorMessage(xhr)); return; }
        const capture = JSON.parse(xhr.responseText);
        bar.value = 1;
        text.textContent = `Uploaded ${human(file.size)}. Indexing…`;
        htmx.trigger(document.body, "capture-added");
        if (capture.status === "indexing" && file.size > BIG_UPLOAD) {
          // A big capture takes seconds to index: its live page shows the first rows and the
          // indexing progress as server-sent events, then opens the capture when it is ready.
          window.location.assign(`/captures/${encodeURIComponent(capture.id)}/live`);
          return;
        }
        // The status line polls itself and, with follow=1, the server redirects to the capture
        // once it is ready.
        const url = form.dataset.statusUrl.replace("__id__", encodeURIComponent(capture.id));
        htmx.ajax("GET", url, { target: status, swap: "innerHTML" });
      });
      xhr.addEventListener("error", () => fail("The upload failed: the server cannot be reached."));
      xhr.send(data);
    }

    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      if (file) upload(file);
      input.value = "";  // choosing the same file again must still fire "change"
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.files && input.files[0]) upload(input.files[0]);
    });

    form.addEventListener("dragenter", (e) => { e.preventDefault(); form.classList.add("dragover"); });
    form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("dragover"); });
    form.addEventListener("dragleave", (e) => {
      if (!form.contains(e.relatedTarget)) form.classList.remove("dragover");
    });
    form.addEventListener("drop", (e) => {
      e.preventDefault();
      form.classList.remove("dragover");
      const files = e.dataTransfer && e.dataTransfer.files;
      if (!files || !files.length) return;
      if (files.length > 1) W.flash("One file at a time: uploading the first one.");
      upload(files[0]);
    });
    // A file dropped beside the zone must not make the browser leave the page to show it.
    document.addEventListener("dragover", (e) => e.preventDefault());
    document.addEventListener("drop", (e) => e.preventDefault());
  }

  // The DELETE answers 204 (no content), which htmx does not swap: remove the row here.
  document.addEventListener("htmx:afterRequest", (e) => {
    const elt = e.detail.elt;
    if (!elt.matches || !elt.matches("[data-delete-row]") || !e.detail.successful) return;
    const row = elt.closest("tr");
    const body = row && row.parentElement;
    if (row) row.remove();
    if (body && !body.querySelector("tr")) htmx.trigger(document.body, "capture-added");
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
