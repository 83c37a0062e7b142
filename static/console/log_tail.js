/* A log view (#log-view) fed by htmx: it stays scrolled to the newest line unless the reader scrolled up. */
(function () {
  "use strict";

  function followLog() {
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var view = document.getElementById("log-view");
      if (view && event.detail.target === view) {
        view.dataset.atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 40 ? "1" : "";
      }
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var view = document.getElementById("log-view");
      if (!view) { return; }
      if (event.detail.target === view) {
        var empty = document.getElementById("log-empty");
        if (empty && view.querySelector(".log-line")) { empty.remove(); }
        if (view.dataset.atBottom) { view.scrollTop = view.scrollHeight; }
      } else if (event.detail.target.id === "log-panel" || event.detail.elt.id === "log-panel") {
        view.scrollTop = view.scrollHeight;
      }
    });
    var view = document.getElementById("log-view");
    if (view) { view.scrollTop = view.scrollHeight; }
  }

  followLog();
})();
