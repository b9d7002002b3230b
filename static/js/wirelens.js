/* Behaviour shared by every page: problems of htmx requests are shown in the flash box (htmx
   does not swap 4xx/5xx answers, so without this a failed request would pass unnoticed). */
(function () {
  "use strict";
  const W = (window.Wirelens = window.Wirelens || {});
  let timer = 0;

  W.flash = function (message) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => { box.hidden = true; }, 8000);
  };

  /* The sentence of an API error body ({"error": ...}), else the HTTP status. */
  W.errorMessage = function (xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      if (body && typeof body.error === "string") return body.error;
    } catch (err) { /* not JSON: fall through */ }
    return `The request failed (${xhr.status} ${xhr.statusText || "error"}).`;
  };

  document.addEventListener("htmx:responseError", (e) => W.flash(W.errorMessage(e.detail.xhr)));
  document.addEventListener("htmx:sendError", () => W.flash("The server cannot be reached."));
  document.addEventListener("click", (e) => {
    const box = e.target.closest && e.target.closest("#flash");
    if (box) box.hidden = true;
  });
})();
