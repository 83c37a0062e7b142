/* Metric charts with uPlot, for one run (its page) or several (compare).

   Each run's series are fetched downsampled by the server (at most MAX_POINTS a series, keeping each step
   bucket's extremes); zooming a chart fetches the visible step range again, at full resolution once it holds
   few enough points. Charts are grouped train / eval / system by the metric name's prefix, loss first;
   `eval/X` is drawn as points on the chart of X. Metrics with one point, and `summary/*`, are a table. */
(function () {
  "use strict";

  var MAX_POINTS = 2000; // a series on a chart at most ~1000 px wide
  var POLL_MS = 5000;
  var HEIGHT = 220;
  var SERIES_PALETTE = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#5c940d"];
  var SECTIONS = ["train", "eval", "system"];

  /* --- Names ------------------------------------------------------------------------------------ */

  function isEval(name) { return /^(eval|test)[_/]/.test(name); }
  function isSummary(name) { return /^summary\//.test(name); }
  function isEpoch(name) { return name === "train/epoch" || name === "epoch"; }

  /* The chart a metric is drawn on, and the section that chart sits in. */
  function chartOf(name) {
    if (/^(gpu|system|sys)[_/]/.test(name)) { return { key: name, section: "system" }; }
    if (isEval(name)) { return { key: name.replace(/^(eval|test)[_/]/, ""), section: "eval" }; }
    return { key: name.replace(/^train[_/]/, ""), section: "train" };
  }

  function lossFirst(a, b) {
    var aLoss = /loss$/.test(a) ? 0 : 1, bLoss = /loss$/.test(b) ? 0 : 1;
    return (aLoss - bLoss) || (a < b ? -1 : a > b ? 1 : 0);
  }

  /* --- Numbers ---------------------------------------------------------------------------------- */

  /* The fewest decimals that write `step` exactly (0.25 → 2, 5 → 0, 2e-4 → 4). */
  function decimalsOf(step) {
    for (var digits = 0; digits < 15; digits++) {
      var scaled = step * Math.pow(10, digits);
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, Math.abs(scaled))) { return digits; }
    }
    return 15;
  }

  function formatTick(value, digits, exponent) {
    if (value === null || value === undefined) { return ""; }
    var text = exponent ? value.toExponential(digits) : value.toFixed(digits);
    return /^-0(\.0*)?(e.*)?$/.test(text) ? text.slice(1) : text;
  }

  /* Labels for ticks `splits` spaced `step` apart: the precision comes from the step, so neighbouring
     ticks never read the same (2.0e-3 three times), and more digits are added should any still repeat. */
  function tickLabels(splits, step) {
    var finite = splits.filter(function (v) { return v !== null && isFinite(v); });
    var largest = finite.reduce(function (m, v) { return Math.max(m, Math.abs(v)); }, 0);
    var exponent = largest >= 1e5 || (largest > 0 && largest < 1e-2);
    var digits = 0;
    if (step > 0 && isFinite(step)) {
      digits = exponent ? decimalsOf(step / Math.pow(10, Math.floor(Math.log10(largest)))) : decimalsOf(step);
    }
    var labels;
    for (; digits <= 15; digits++) {
      labels = splits.map(function (v) { return formatTick(v, digits, exponent); });
      if (new Set(labels).size === labels.length) { return labels; }
    }
    return labels;
  }

  /* Room for the longest tick label of the y axis (uPlot asks again once it has the labels). */
  function axisWidth(u, values) {
    var longest = (values || []).reduce(function (m, v) { return Math.max(m, String(v).length); }, 4);
    return 18 + longest * 7;
  }

  /* A value in a table cell or a log-scale tick: 4 significant digits (a learning rate of 2e-5 is not "0"). */
  function shortNumber(value) {
    if (value === null || value === undefined) { return ""; }
    return Math.abs(value) >= 1e5 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(3).replace(/\.?0+e/, "e")
      : String(+value.toPrecision(4));
  }

  /* Seconds since the run's first point, as h:mm:ss. */
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    var sign = seconds < 0 ? "-" : "";
    var s = Math.round(Math.abs(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return sign + h + ":" + (m < 10 ? "0" : "") + m + ":" + (r < 10 ? "0" : "") + r;
  }

  /* TensorBoard's smoothing: an exponential moving average, debiased so the line starts at the first value. */
  function smooth(values, weight) {
    var last = 0, count = 0;
    return values.map(function (v) {
      if (v === null) { return null; }
      last = last * weight + (1 - weight) * v;
      count += 1;
      return last / (1 - Math.pow(weight, count));
    });
  }

  /* --- Series as columns: {steps, values, times} --------------------------------------------------- */

  function emptySeries() { return { steps: [], values: [], times: [] }; }

  function columns(points, times) {
    var series = emptySeries();
    points.forEach(function (p, i) { series.steps.push(p[0]); series.values.push(p[1]); series.times.push(times ? times[i] : null); });
    return series;
  }

  /* Insert or replace (the last write for a step wins) keeping step order; new points usually go at the end. */
  function merge(series, step, value, time) {
    var n = series.steps.length;
    if (n === 0 || step > series.steps[n - 1]) {
      series.steps.push(step); series.values.push(value); series.times.push(time);
      return;
    }
    var lo = 0, hi = n;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (series.steps[mid] < step) { lo = mid + 1; } else { hi = mid; } }
    if (series.steps[lo] === step) { series.values[lo] = value; series.times[lo] = time; return; }
    series.steps.splice(lo, 0, step); series.values.splice(lo, 0, value); series.times.splice(lo, 0, time);
  }

  /* The value of a step-ordered series at `step`, linearly between its points (for the epoch axis). */
  function interpolate(series, step) {
    var steps = series.steps, values = series.values, n = steps.length;
    if (n === 0) { return null; }
    if (step <= steps[0]) { return steps[0] ? values[0] * step / steps[0] : values[0]; }
    if (step >= steps[n - 1]) { return steps[n - 1] ? values[n - 1] * step / steps[n - 1] : values[n - 1]; }
    var lo = 0, hi = n - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (steps[mid] <= step) { lo = mid; } else { hi = mid; } }
    return values[lo] + (values[hi] - values[lo]) * (step - steps[lo]) / (steps[hi] - steps[lo]);
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.json() : Promise.reject(response.status);
    });
  }

  function withQuery(url, params) {
    var query = new URLSearchParams();
    Object.keys(params).forEach(function (key) {
      [].concat(params[key]).forEach(function (value) { if (value !== null && value !== undefined) { query.append(key, value); } });
    });
    return url + "?" + query.toString();
  }

  /* --- The board ---------------------------------------------------------------------------------- */

  function MetricBoard(root, runs) {
    this.root = root;
    this.labels = root.dataset;
    this.runs = runs.map(function (run) { return Object.assign({ series: {}, lastId: 0, active: false }, run); });
    this.single = runs.length === 1;
    this.charts = new Map();
    this.smoothing = 0;
    this.logScale = false;
    this.xMode = "step";
    this.bindControls();
  }

  MetricBoard.prototype.control = function (name) { return this.root.querySelector("[data-control='" + name + "']"); };

  MetricBoard.prototype.bindControls = function () {
    var board = this;
    var slider = this.control("smoothing");
    slider.addEventListener("input", function () {
      board.smoothing = Number(slider.value);
      board.control("smoothing-value").textContent = slider.value;
      board.render();
    });
    this.control("log").addEventListener("change", function (event) { board.logScale = event.target.checked; board.render(); });
    this.control("x").addEventListener("change", function (event) { board.xMode = event.target.value; board.render(); });
    window.addEventListener("resize", function () { board.resize(); });
  };

  /* Fetch every run's series (downsampled), draw them, and keep polling runs that are still going. */
  MetricBoard.prototype.start = function (live) {
    var board = this;
    return Promise.all(this.runs.map(function (run) {
      return getJson(withQuery(run.metrics_url, { max_points: MAX_POINTS })).then(function (body) {
        Object.keys(body.series).forEach(function (name) { run.series[name] = columns(body.series[name], body.times[name]); });
        run.lastId = body.last_id;
        run.active = body.active;
      });
    })).then(function () {
      board.render();
      if (live) { board.runs.forEach(function (run) { if (run.active) { board.poll(run); } }); }
    });
  };

  MetricBoard.prototype.poll = function (run) {
    var board = this;
    setTimeout(function () {
      getJson(withQuery(run.metrics_url, { after_id: run.lastId })).then(function (body) {
        var names = Object.keys(body.series);
        names.forEach(function (name) {
          var series = run.series[name] || (run.series[name] = emptySeries());
          body.series[name].forEach(function (p, i) { merge(series, p[0], p[1], body.times[name][i]); });
        });
        run.lastId = body.last_id;
        if (names.length) { board.render(); }
        if (body.active) { board.poll(run); }
      }).catch(function () { board.poll(run); });
    }, POLL_MS);
  };

  /* Chart key → {section, names: {runId: [metric names]}}, and the metrics that are a table instead. */
  MetricBoard.prototype.layout = function () {
    var charts = new Map(), values = [];
    this.runs.forEach(function (run) {
      Object.keys(run.series).forEach(function (name) {
        if (isSummary(name)) { values.push({ run: run, name: name }); return; }
        var where = chartOf(name);
        var chart = charts.get(where.key) || { key: where.key, section: where.section, names: {}, points: 0 };
        if (where.section !== "eval" && chart.section === "eval") { chart.section = where.section; }
        (chart.names[run.id] = chart.names[run.id] || []).push(name);
        chart.points = Math.max(chart.points, run.series[name].steps.length);
        charts.set(where.key, chart);
      });
    });
    charts.forEach(function (chart, key) {
      if (chart.points > 1) { return; }
      charts.delete(key);
      Object.keys(chart.names).forEach(function (runId) {
        chart.names[runId].forEach(function (name) { values.push({ run: this.runById(runId), name: name }); }, this);
      }, this);
    }, this);
    return { charts: charts, values: values };
  };

  MetricBoard.prototype.runById = function (id) { return this.runs.find(function (run) { return run.id === id; }); };

  MetricBoard.prototype.hasEpochs = function () {
    return this.runs.some(function (run) { return Object.keys(run.series).some(isEpoch); });
  };

  /* The x of each point of `series` (a series of `run`) on the chosen axis. */
  MetricBoard.prototype.xs = function (run, series) {
    if (this.xMode === "time") {
      var start = this.startTime(run);
      return series.times.map(function (t) { return t === null ? null : t - start; });
    }
    if (this.xMode === "epoch") {
      var epochs = run.series["train/epoch"] || run.series.epoch;
      return epochs ? series.steps.map(function (s) { return interpolate(epochs, s); }) : series.steps.slice();
    }
    return series.steps.slice();
  };

  MetricBoard.prototype.startTime = function (run) {
    var start = Infinity;
    Object.keys(run.series).forEach(function (name) {
      run.series[name].times.forEach(function (t) { if (t !== null && t < start) { start = t; } });
    });
    return start === Infinity ? 0 : start;
  };

  /* The chart's lines: per run, its train series (and their smoothing) then its eval series as points. */
  MetricBoard.prototype.lines = function (chart, source) {
    var board = this, lines = [];
    this.runs.forEach(function (run) {
      var names = (chart.names[run.id] || []).slice().sort(function (a, b) { return (isEval(a) - isEval(b)) || lossFirst(a, b); });
      names.forEach(function (name, index) {
        var series = source(run, name);
        if (!series) { return; }
        var colour = board.single ? SERIES_PALETTE[index % SERIES_PALETTE.length] : run.colour;
        var label = board.single ? name : run.name + " · " + name;
        var xs = board.xs(run, series);
        var values = board.logScale ? series.values.map(function (v) { return v > 0 ? v : null; }) : series.values;
        var line = { run: run, name: name, eval: isEval(name), colour: colour, label: label, xs: xs, steps: series.steps, ys: values };
        if (board.smoothing > 0 && !line.eval) {
          lines.push(Object.assign({}, line, { faint: true }));
          lines.push(Object.assign({}, line, { label: label + " (" + board.labels.labelSmoothed + ")", ys: smooth(values, board.smoothing) }));
        } else {
          lines.push(line);
        }
      });
    });
    return lines;
  };

  /* uPlot wants one ascending x array and y arrays aligned to it, null where a line has no point. */
  function align(lines) {
    var all = new Set();
    lines.forEach(function (line) { line.xs.forEach(function (x) { if (x !== null) { all.add(x); } }); });
    var xs = Array.from(all).sort(function (a, b) { return a - b; });
    var index = new Map(xs.map(function (x, i) { return [x, i]; }));
    return [xs].concat(lines.map(function (line) {
      var ys = new Array(xs.length).fill(null);
      line.xs.forEach(function (x, i) { if (x !== null) { ys[index.get(x)] = line.ys[i]; } });
      return ys;
    }));
  }

  function seriesOptions(line) {
    if (line.eval) {
      return { label: line.label, stroke: line.colour, width: 0, paths: function () { return null; },
        points: { show: true, size: 7, stroke: line.colour, fill: "#fff", width: 2 } };
    }
    if (line.faint) {
      return { label: line.label, stroke: line.colour + "40", width: 1, spanGaps: true, points: { show: false } };
    }
    return { label: line.label, stroke: line.colour, width: 1.5, spanGaps: true, points: { show: false } };
  }

  MetricBoard.prototype.xLabel = function () {
    return { step: this.labels.labelStep, time: this.labels.labelTime, epoch: this.labels.labelEpoch }[this.xMode];
  };

  MetricBoard.prototype.render = function () {
    var board = this;
    var layout = this.layout();
    var epochOption = this.control("x").querySelector("option[value='epoch']");
    epochOption.disabled = !this.hasEpochs();
    this.root.querySelector("[data-empty]").hidden = layout.charts.size > 0 || layout.values.length > 0;
    this.charts.forEach(function (chart, key) {
      if (!layout.charts.has(key)) { chart.plot.destroy(); chart.box.remove(); board.charts.delete(key); }
    });
    SECTIONS.forEach(function (section) {
      var keys = Array.from(layout.charts.keys()).filter(function (key) { return layout.charts.get(key).section === section; });
      keys.sort(lossFirst);
      var grid = board.root.querySelector("[data-section='" + section + "'] .chart-grid");
      grid.parentElement.hidden = keys.length === 0;
      keys.forEach(function (key) { board.draw(layout.charts.get(key), grid); });
    });
    this.renderValues(layout.values);
  };

  function overview(run, name) { return run.series[name]; }

  /* Draw (or redraw) one chart in `grid`, from the overview, or from its zoomed range if it has one. */
  MetricBoard.prototype.draw = function (spec, grid) {
    var chart = this.charts.get(spec.key) || this.makeBox(spec);
    this.charts.set(spec.key, chart);
    chart.spec = spec;
    grid.appendChild(chart.box); // in the section's order
    var signature = [this.xMode, this.logScale].concat(this.lines(spec, overview).map(function (line) { return line.label; })).join("|");
    if (chart.plot && chart.signature === signature) {
      var zoom = chart.zoom;
      chart.lines = this.lines(spec, zoom ? function (run, name) { return (zoom.series[run.id] || {})[name]; } : overview);
      chart.applying = true;
      chart.plot.setData(align(chart.lines), !zoom);
      chart.applying = false;
      return;
    }
    if (chart.plot) { chart.plot.destroy(); chart.plot = null; } // no zoom handling while the new one is built
    chart.zoom = null;
    delete chart.box.dataset.zoomed;
    chart.signature = signature;
    chart.lines = this.lines(spec, overview);
    this.csvLinks(chart);
    chart.plot = new uPlot(this.plotOptions(chart, chart.lines), align(chart.lines), chart.plotBox);
  };

  MetricBoard.prototype.makeBox = function (spec) {
    var board = this;
    var box = document.createElement("figure");
    box.className = "chart";
    box.dataset.metric = spec.key;
    var header = document.createElement("div");
    header.className = "chart-header";
    var title = document.createElement("h4");
    title.textContent = spec.key;
    var actions = document.createElement("div");
    actions.className = "chart-actions";
    var png = document.createElement("button");
    png.type = "button";
    png.className = "button-small";
    png.textContent = this.labels.labelPng;
    png.dataset.export = "png";
    actions.appendChild(png);
    header.appendChild(title);
    header.appendChild(actions);
    box.appendChild(header);
    var plotBox = document.createElement("div");
    box.appendChild(plotBox);
    var chart = { box: box, plotBox: plotBox, actions: actions, zoom: null, sequence: 0 };
    png.addEventListener("click", function () { board.savePng(chart); });
    return chart;
  };

  /* The chart's CSV links: one per run, for the series as stored. */
  MetricBoard.prototype.csvLinks = function (chart) {
    var board = this;
    chart.actions.querySelectorAll("a[data-export='csv']").forEach(function (link) { link.remove(); });
    this.runs.forEach(function (run) {
      var names = chart.spec.names[run.id];
      if (!names) { return; }
      var link = document.createElement("a");
      link.className = "button-small";
      link.dataset.export = "csv";
      link.href = withQuery(run.csv_url, { name: names });
      link.textContent = board.single ? board.labels.labelCsv : board.labels.labelCsv + " · " + run.name;
      link.title = run.label;
      link.setAttribute("download", "");
      chart.actions.appendChild(link);
    });
  };

  MetricBoard.prototype.plotOptions = function (chart, lines) {
    var board = this;
    var xValues = this.xMode === "time"
      ? function (u, splits) { return splits.map(duration); }
      : function (u, splits, axis, space, step) { return tickLabels(splits, step); };
    var yValues = this.logScale
      ? function (u, splits) { return splits.map(shortNumber); }
      : function (u, splits, axis, space, step) { return tickLabels(splits, step); };
    return {
      width: this.width(chart), height: HEIGHT,
      scales: { x: { time: false }, y: this.logScale ? { distr: 3, log: 10 } : {} },
      axes: [{ label: this.xLabel(), values: xValues }, { size: axisWidth, values: yValues }],
      series: [{ label: this.xLabel(), value: function (u, v) { return board.xMode === "time" ? duration(v) : shortNumber(v); } }]
        .concat(lines.map(seriesOptions)),
      cursor: { bind: { dblclick: function () { return function () { board.unzoom(chart); return null; }; } } },
      hooks: {
        setScale: [function (u, key) { if (key === "x") { board.zoomed(chart); } }],
        draw: [function () { chart.box.dataset.drawn = String((Number(chart.box.dataset.drawn) || 0) + 1); }],
      },
    };
  };

  MetricBoard.prototype.width = function (chart) {
    return Math.max(200, (chart.box.clientWidth || this.root.clientWidth) - 8);
  };

  MetricBoard.prototype.resize = function () {
    var board = this;
    this.charts.forEach(function (chart) { chart.plot.setSize({ width: board.width(chart), height: HEIGHT }); });
  };

  /* After a drag-zoom: fetch the steps now visible, so the range is drawn at full resolution. */
  MetricBoard.prototype.zoomed = function (chart) {
    if (chart.applying || !chart.plot) { return; }
    var board = this, scale = chart.plot.scales.x;
    var range = this.stepRange(chart, scale.min, scale.max);
    clearTimeout(chart.timer);
    if (!range) { return; }
    chart.timer = setTimeout(function () { board.fetchRange(chart, range, scale.min, scale.max); }, 120);
  };

  /* The steps of the points within [lo, hi] on the x axis, and one beyond each side; null for the whole series. */
  MetricBoard.prototype.stepRange = function (chart, lo, hi) {
    var first = Infinity, last = -Infinity, whole = true;
    this.lines(chart.spec, overview).forEach(function (line) {
      line.xs.forEach(function (x, i) {
        var step = line.steps[i];
        if (x < lo || x > hi) { whole = false; }
        if (x >= lo && x <= hi) { first = Math.min(first, step); last = Math.max(last, step); }
        else if (x < lo && i + 1 < line.xs.length && line.xs[i + 1] >= lo) { first = Math.min(first, step); }
        else if (x > hi && i > 0 && line.xs[i - 1] <= hi) { last = Math.max(last, step); }
      });
    });
    return whole || first > last ? null : { since: first, until: last };
  };

  MetricBoard.prototype.fetchRange = function (chart, range, lo, hi) {
    var board = this, sequence = ++chart.sequence, zoom = { series: {} };
    Promise.all(this.runs.map(function (run) {
      var names = chart.spec.names[run.id];
      if (!names) { return null; }
      var url = withQuery(run.metrics_url, { max_points: MAX_POINTS, since_step: range.since, until_step: range.until, name: names });
      return getJson(url).then(function (body) {
        zoom.series[run.id] = {};
        Object.keys(body.series).forEach(function (name) { zoom.series[run.id][name] = columns(body.series[name], body.times[name]); });
      });
    })).then(function () {
      if (sequence !== chart.sequence) { return; } // a later zoom or a reset came meanwhile
      chart.zoom = zoom;
      chart.applying = true;
      chart.lines = board.lines(chart.spec, function (run, name) { return (zoom.series[run.id] || {})[name]; });
      chart.plot.setData(align(chart.lines), false);
      chart.plot.setScale("x", { min: lo, max: hi });
      chart.applying = false;
      chart.box.dataset.zoomed = "1";
    });
  };

  MetricBoard.prototype.unzoom = function (chart) {
    chart.sequence += 1;
    clearTimeout(chart.timer);
    chart.zoom = null;
    delete chart.box.dataset.zoomed;
    chart.applying = true;
    chart.lines = this.lines(chart.spec, overview);
    chart.plot.setData(align(chart.lines), true);
    chart.applying = false;
  };

  /* The chart as a PNG: its canvas (axes included) on white, under its title and over its legend. */
  MetricBoard.prototype.savePng = function (chart) {
    var source = chart.plot.ctx.canvas, ratio = source.width / chart.plot.width;
    var lineHeight = Math.round(18 * ratio), title = Math.round(28 * ratio);
    var out = document.createElement("canvas");
    out.width = source.width;
    out.height = title + source.height + lineHeight * chart.lines.length + Math.round(8 * ratio);
    var ctx = out.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = "#1a1f2b";
    ctx.font = "bold " + Math.round(14 * ratio) + "px sans-serif";
    ctx.fillText(chart.spec.key, Math.round(8 * ratio), Math.round(20 * ratio));
    ctx.drawImage(source, 0, title);
    ctx.font = Math.round(12 * ratio) + "px sans-serif";
    chart.lines.forEach(function (line, i) {
      ctx.fillStyle = line.colour;
      ctx.fillText("■ " + line.label, Math.round(8 * ratio), title + source.height + lineHeight * (i + 1));
    });
    out.toBlob(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = chart.spec.key.replace(/[^\w.-]+/g, "_") + ".png";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }, "image/png");
  };

  /* Metrics with one point, and summaries: metric, (run,) step, value. */
  MetricBoard.prototype.renderValues = function (values) {
    var board = this;
    var section = this.root.querySelector("[data-section='values']");
    section.hidden = values.length === 0;
    var head = section.querySelector("thead tr");
    var columns = (this.single ? [] : [this.labels.labelRun]).concat([this.labels.labelMetric, this.labels.labelStep, this.labels.labelValue]);
    head.replaceChildren.apply(head, columns.map(function (text) {
      var th = document.createElement("th"); th.scope = "col"; th.textContent = text; return th;
    }));
    values.sort(function (a, b) { return lossFirst(a.name, b.name) || (a.run.label < b.run.label ? -1 : 1); });
    var body = section.querySelector("tbody");
    body.replaceChildren.apply(body, values.map(function (item) {
      var series = item.run.series[item.name], last = series.steps.length - 1;
      var row = document.createElement("tr");
      row.dataset.metric = item.name;
      var cells = (board.single ? [] : [item.run.label]).concat([item.name, String(series.steps[last]), shortNumber(series.values[last])]);
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        if (!board.single && i === 0) {
          var swatch = document.createElement("span"); swatch.className = "swatch"; swatch.style.background = item.run.colour; td.appendChild(swatch);
        }
        td.appendChild(document.createTextNode(text));
        if (i === cells.length - 1) { td.className = "num"; }
        row.appendChild(td);
      });
      return row;
    }));
  };

  /* The board in `root`, for the runs its page lists in the JSON script `chart-runs`. */
  function start(root, live) {
    var runs = JSON.parse(document.getElementById("chart-runs").textContent);
    var board = new MetricBoard(root, runs);
    board.start(live);
    return board;
  }

  window.ConsoleCharts = { start: start, tickLabels: tickLabels, smooth: smooth, chartOf: chartOf };
})();
