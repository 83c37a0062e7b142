/* Compare page: the runs' charts (charts.js, one colour per run) and the parameter table's "show all". */
(function () {
  "use strict";
  var root = document.getElementById("compare-charts");
  if (root) { window.ConsoleCharts.start(root, false); }
  var showAll = document.getElementById("show-all-parameters");
  if (showAll) {
    showAll.addEventListener("change", function () {
      document.querySelectorAll("#parameter-table .same-parameter").forEach(function (row) { row.hidden = !showAll.checked; });
    });
  }
})();
