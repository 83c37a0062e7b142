/* Metric charts with uPlot: one chart per metric, evaluation points drawn apart from training. */
(function () {
  "use strict";

  var PALETTE = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d", "#e67700"];

  /* "eval_loss" and "loss" share the chart "loss"; eval points are marked, not joined. */
  function chartKey(name) {
    return name.replace(/^(eval|train)[_/]/, "");
  }
  function isEval(name) {
    return /^eval[_/]/.test(name);
  }

  /* 4 significant digits: a learning rate of 2e-5 must not read "0". */
  function shortNumber(value) {
    if (value === null) { return ""; }
    return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-2) ? value.toExponential(1) : String(+value.toPrecision(4));
  }

  /* uPlot wants one x array and y arrays aligned to it, with nulls where a series has no point. */
  function align(seriesList) {
    var steps = new Set();
    seriesList.forEach(function (s) { s.points.forEach(function (p) { steps.add(p[0]); }); });
    var xs = Array.from(steps).sort(function (a, b) { return a - b; });
    var index = new Map(xs.map(function (x, i) { return [x, i]; }));
    var data = [xs];
    seriesList.forEach(function (s) {
      var ys = new Array(xs.length).fill(null);
      s.points.forEach(function (p) { ys[index.get(p[0])] = p[1]; });
      data.push(ys);
    });
    return data;
  }

  function seriesOptions(s, color) {
    if (s.eval) {
      return { label: s.label, stroke: color, width: 0, paths: function () { return null; },
        points: { show: true, size: 8, stroke: color, fill: "#fff", width: 2 } };
    }
    return { label: s.label, stroke: color, width: 1.5, spanGaps: true, points: { show: false } };
  }

  /* A set of charts in `container`; `update(groups)` redraws them, creating missing ones. */
  function ChartBoard(container, labels) {
    this.container = container;
    this.labels = labels;
    this.charts = new Map();
  }

  ChartBoard.prototype.width = function () {
    var first = this.container.querySelector(".chart");
    return Math.max(260, (first ? first.clientWidth : this.container.clientWidth) - 8);
  };

  /* groups: Map chart title -> [{label, eval, points: [[step, value], ...]}] */
  ChartBoard.prototype.render = function (groups) {
    var board = this;
    groups.forEach(function (seriesList, title) {
      var data = align(seriesList);
      var existing = board.charts.get(title);
      var signature = seriesList.map(function (s) { return s.label; }).join("|");
      if (existing && existing.signature === signature) {
        existing.plot.setData(data);
        return;
      }
      if (existing) { existing.plot.destroy(); existing.box.remove(); }
      var box = document.createElement("figure");
      box.className = "chart";
      box.dataset.metric = title;
      box.innerHTML = "<h3></h3>";
      box.querySelector("h3").textContent = title;
      board.container.appendChild(box);
      var opts = {
        width: board.width(), height: 220,
        scales: { x: { time: false } },
        axes: [{ label: board.labels.step }, { size: 60, values: function (u, values) { return values.map(shortNumber); } }],
        series: [{ label: board.labels.step }].concat(seriesList.map(function (s, i) {
          return seriesOptions(s, PALETTE[i % PALETTE.length]);
        })),
      };
      board.charts.set(title, { plot: new uPlot(opts, data, box), box: box, signature: signature });
    });
  };

  ChartBoard.prototype.resize = function () {
    var width = this.width();
    this.charts.forEach(function (chart) { chart.plot.setSize({ width: width, height: 220 }); });
  };

  /* One run: series by metric name, grouped so eval_X sits on X's chart. */
  function runGroups(seriesByName, labels) {
    var groups = new Map();
    var trainFirst = function (a, b) { return (isEval(a) - isEval(b)) || (a < b ? -1 : a > b ? 1 : 0); };
    Object.keys(seriesByName).sort(trainFirst).forEach(function (name) {
      var key = chartKey(name);
      if (!groups.has(key)) { groups.set(key, []); }
      groups.get(key).push({ label: name, eval: isEval(name), points: seriesByName[name] });
    });
    return groups;
  }

  window.ConsoleCharts = { ChartBoard: ChartBoard, runGroups: runGroups, isEval: isEval };
})();
