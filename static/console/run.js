/* The run page: live metric charts (charts.js), and the cancel countdown. */
(function () {
  "use strict";

  function liveCharts() {
    var root = document.getElementById("charts");
    if (root) { window.ConsoleCharts.start(root, true); }
  }

  /* A cancel in progress: count down to SIGKILL every second (the panel itself is re-polled every few). */
  function countdowns() {
    setInterval(function () {
      document.querySelectorAll("[data-kill-at]").forEach(function (element) {
        var left = Math.max(0, Math.round(Number(element.dataset.killAt) - Date.now() / 1000));
        var shown = element.querySelector("[data-countdown]");
        if (shown) { shown.textContent = String(left); }
      });
    }, 1000);
  }

  liveCharts();
  countdowns();
})();
