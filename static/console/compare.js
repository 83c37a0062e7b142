/* Compare page: one chart per metric, one line per run (eval metrics as points). */
(function () {
  "use strict";
  var container = document.getElementById("compare-charts");
  var series = JSON.parse(document.getElementById("compare-series").textContent);
  var board = new window.ConsoleCharts.ChartBoard(container, { step: container.dataset.labelStep });
  var groups = new Map();
  Object.keys(series).sort().forEach(function (name) {
    groups.set(name, Object.keys(series[name]).map(function (runLabel) {
      return { label: runLabel, eval: window.ConsoleCharts.isEval(name), points: series[name][runLabel] };
    }));
  });
  board.render(groups);
  window.addEventListener("resize", function () { board.resize(); });
})();
