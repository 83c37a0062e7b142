/* The run page: live metric charts, fed by the run's metrics endpoint. */
(function () {
  "use strict";

  var POLL_MS = 5000;

  function liveCharts() {
    var container = document.getElementById("charts");
    if (!container) { return; }
    var labels = { step: container.dataset.labelStep };
    var board = new window.ConsoleCharts.ChartBoard(container, labels);
    var series = {};
    var lastId = 0;

    function poll() {
      fetch(container.dataset.metricsUrl + "?after_id=" + lastId, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (body) {
          var changed = false;
          Object.keys(body.series).forEach(function (name) {
            var known = series[name] || (series[name] = []);
            body.series[name].forEach(function (point) {
              var at = known.findIndex(function (p) { return p[0] === point[0]; });
              if (at >= 0) { known[at] = point; } else { known.push(point); }
              changed = true;
            });
            known.sort(function (a, b) { return a[0] - b[0]; });
          });
          lastId = body.last_id;
          if (changed) {
            document.getElementById("charts-empty").hidden = true;
            board.render(window.ConsoleCharts.runGroups(series, labels));
          }
          if (body.active) { setTimeout(poll, POLL_MS); }
        })
        .catch(function () { setTimeout(poll, POLL_MS * 2); });
    }
    poll();
    window.addEventListener("resize", function () { board.resize(); });
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
