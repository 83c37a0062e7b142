/* A log view (#log-view) fed by htmx: it stays scrolled to the newest line unless the reader scrolled up. */
(function () {
  "use strict";

  var MAX_LINES = 5000;  // a page left open for hours keeps the newest lines only

  function trim(view) {
    var lines = view.querySelectorAll(".log-line");
    for (var i = 0; i < lines.length - MAX_LINES; i++) { lines[i].remove(); }
  }

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
        trim(view);
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
