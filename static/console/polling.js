/* Panels that poll (hx-trigger="every Ns") and hold a disclosure the reader may open
   (data-poll-pauses-while-open) skip their refresh while one of its <details> is open,
   so the swap does not close it under the reader. A file, not an htmx trigger filter:
   filters are evaluated as code, which the Content-Security-Policy forbids. */
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var panel = event.detail.elt;
    if (panel.hasAttribute("data-poll-pauses-while-open") && panel.querySelector("details[open]")) {
      event.preventDefault();
    }
  });
})();
