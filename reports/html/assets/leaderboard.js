// The leaderboard page: a models x suites matrix, the sortable table of runs and three plots drawn as
// inline SVG (accuracy vs cost, accuracy vs think length, output-length histograms).
(() => {
  const {el, svg} = rb;
  const data = rb.readData();
  const rows = data.rows;
  const app = document.getElementById("app");
  const modelColor = rb.colorScale([...new Set(rows.map((r) => r.model))].sort());
  const suites = [...new Set(rows.map((r) => r.suite))].sort();
  // A field of a row by path: "avg_at_k", "trace.think_closed_rate".
  const valueOf = (row, key) => key.split(".").reduce((object, part) => (object == null ? undefined : object[part]), row);
  const present = (key) => rows.some((r) => valueOf(r, key) !== undefined && valueOf(r, key) !== null);

  // The 95% interval of avg@k: the leaderboard's own (normal or Wilson) where the rows carry it, else
  // mean ± 1.96 question-level standard errors.
  function interval(row) {
    if (rb.isNumber(row.ci_low) && rb.isNumber(row.ci_high)) return [row.ci_low, row.ci_high];
    const half = 1.96 * (row.standard_error || 0);
    return [Math.max(0, row.avg_at_k - half), Math.min(1, row.avg_at_k + half)];
  }
  const WILSON = "Wilson interval (few problems, or a score at or near 0% or 100%)";

  const swatch = (model) => {
    const dot = el("span", {class: "swatch"});
    dot.style.background = modelColor(model);
    return dot;
  };
  const modelCell = (row) => el("span", {class: "model-cell"}, swatch(row.model), row.model);
  function accuracyCell(row) {
    const [low, high] = interval(row);
    const wilson = row.ci_method === "wilson";
    return [rb.percent(row.avg_at_k), " ",
            el("span", {class: "ci", title: wilson ? WILSON : "95% interval: mean ± 1.96 question-level SE"},
               `[${rb.percent(low)}, ${rb.percent(high)}]${wilson ? "*" : ""}`)];
  }
  const statusBadge = (row) => el("span", {class: "status " + row.status}, row.status);

  // Columns appear when some row has the field, so fields the leaderboard gains show up as they come.
  const COLUMNS = [
    {key: "model", label: "model", text: true, cell: modelCell},
    suites.length > 1 ? {key: "suite", label: "suite", text: true} : null,  // else the matrix names it
    {key: "problems", label: "problems × k", cell: (row) => `${row.problems} × ${row.k}`,
     title: "problems with at least one graded sample × samples per problem (k)"},
    {key: "samples", label: "samples", title: "graded samples (failed requests excluded)"},
    {key: "avg_at_k", label: "avg@k % [95% CI]", cell: accuracyCell,
     title: "mean over problems of the mean score of their samples (DeepSeek-R1's pass@1), with its 95% " +
            "interval over questions (* Wilson)"},
    {key: "cons_at_k", label: "cons@k %", format: rb.percent, title: "majority vote over each problem's samples"},
    {key: "pass_at_k", label: "pass@k %", format: rb.percent, title: "unbiased pass@k at the run's k"},
    {key: "truncated_rate", label: "trunc %", format: rb.percent, title: "graded samples cut off by the token limit"},
    {key: "mean_reasoning_tokens", label: "think tok", format: rb.fixed, title: "mean reasoning tokens per sample"},
    {key: "mean_answer_tokens", label: "ans tok", format: rb.fixed, title: "mean final-answer tokens per sample"},
    {key: "mean_output_tokens", label: "out tok", format: rb.fixed, title: "mean output tokens per sample"},
    {key: "errors", label: "errors", title: "samples whose request failed"},
    {key: "cost_usd", label: "$ / run", format: rb.money,
     title: "cost of the run's samples with a known price (price table at run time, or GPU time x $/GPU-hour)"},
    {key: "cost_per_solved_usd", label: "$ / solved", format: rb.money, title: "cost divided by correct samples"},
    {key: "status", label: "status", text: true, cell: statusBadge},
    {key: "run_id", label: "run", text: true, mono: true,
     cell: (row) => el("span", {title: row.run_id}, row.run_id.slice(0, 10))},
  ].filter((column) => column && present(column.key));

  const TRACE_COLUMNS = [
    {key: "model", label: "model", text: true, cell: modelCell},
    {key: "suite", label: "suite", text: true},
    {key: "trace.samples", label: "samples", title: "graded samples measured"},
    {key: "mean_reasoning_tokens", label: "think tok", format: rb.fixed, title: "mean reasoning tokens per sample"},
    {key: "trace.mean_think_chars", label: "think chars", format: rb.fixed,
     title: "mean reasoning length in Unicode characters"},
    {key: "truncated_rate", label: "trunc %", format: rb.percent, title: "samples cut off by the token limit"},
    {key: "trace.think_closed_rate", label: "closed %", format: rb.percent,
     title: "reasoning closed with an answer after it"},
    {key: "trace.boxed_rate", label: "boxed %", format: rb.percent, title: "answers with \\boxed{} (math suites)"},
    {key: "trace.format_compliance_rate", label: "format %", format: rb.percent,
     title: "think closed, no stray think tags in the answer, and boxed where asked"},
    {key: "trace.language_mixed_rate", label: "mixed %", format: rb.percent,
     title: "traces mixing CJK and Latin words"},
    {key: "trace.cjk_share", label: "CJK %", format: rb.percent, title: "CJK characters among all words"},
    {key: "trace.reflections_per_1k_words", label: "reflect / 1k words", format: (x) => rb.fixed(x, 1),
     title: "reflection markers (wait, hmm, alternatively, double-check, ...) per 1000 words"},
    {key: "run_id", label: "run", text: true, mono: true,
     cell: (row) => el("span", {title: row.run_id}, row.run_id.slice(0, 10))},
  ].filter((column) => present(column.key));

  function compareRows(key, direction) {
    return (a, b) => {
      const x = valueOf(a, key), y = valueOf(b, key);
      const missingX = x === null || x === undefined, missingY = y === null || y === undefined;
      if (missingX || missingY) return missingX - missingY;  // missing values last either way
      const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return direction === "ascending" ? order : -order;
    };
  }

  function cellContent(column, row) {
    if (column.cell) return column.cell(row);
    const value = valueOf(row, column.key);
    return column.format ? column.format(value) : value === null || value === undefined ? "–" : String(value);
  }

  // A table of one row per run whose headers sort it: numbers start high, text starts at A.
  function sortableTable(id, columns) {
    const sort = {key: null, direction: "descending"};
    const body = el("tbody");
    const headers = columns.map((column) =>
      el("th", {class: "sortable" + (column.text ? "" : " num"), title: column.title, "data-key": column.key,
                scope: "col", onclick: () => sortBy(column)}, column.label));
    function fill() {
      const ordered = sort.key ? [...rows].sort(compareRows(sort.key, sort.direction)) : rows;
      body.replaceChildren(...ordered.map((row) => el("tr", {"data-run-id": row.run_id},
        columns.map((column) => el("td", {"data-key": column.key,
                                          class: (column.text ? "" : "num") + (column.mono ? " mono" : "")},
                                   cellContent(column, row))))));
      headers.forEach((th, i) =>
        th.setAttribute("aria-sort", columns[i].key === sort.key ? sort.direction : "none"));
    }
    function sortBy(column) {
      if (sort.key === column.key) sort.direction = sort.direction === "ascending" ? "descending" : "ascending";
      else Object.assign(sort, {key: column.key, direction: column.text ? "ascending" : "descending"});
      fill();
    }
    fill();
    return el("div", {class: "card table-wrap"},
              el("table", {class: "data", id}, el("thead", {}, el("tr", {}, headers)), body));
  }

  // One cell per model and suite: the run with the most graded samples when a model ran a suite twice.
  function matrix() {
    const best = new Map();
    for (const row of rows) {
      const key = row.model + "\u0000" + row.suite;
      if (!best.has(key) || row.samples > best.get(key).samples) best.set(key, row);
    }
    const models = [...new Set(rows.map((r) => r.model))];
    const meanOf = (model) => {
      const cells = suites.map((s) => best.get(model + "\u0000" + s)).filter(Boolean);
      return cells.reduce((sum, r) => sum + r.avg_at_k, 0) / cells.length;
    };
    models.sort((a, b) => meanOf(b) - meanOf(a));
    const cell = (row) => row
      ? el("td", {class: "cell num", title: `${row.samples} samples, run ${row.run_id}`}, accuracyCell(row),
           el("div", {class: "bar"}, barFill(row.avg_at_k)))
      : el("td", {class: "cell num muted"}, "–");
    return el("div", {class: "card table-wrap fit"}, el("table", {class: "data matrix", id: "matrix"},
      el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "model"),
                         suites.map((s) => el("th", {class: "num", scope: "col"}, s)))),
      el("tbody", {}, models.map((model) => el("tr", {}, el("td", {}, modelCell({model})),
                                               suites.map((s) => cell(best.get(model + "\u0000" + s))))))));
  }

  function barFill(fraction) {
    const fill = el("span");
    fill.style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
    return fill;
  }

  // ---- plots ----

  const SHAPES = ["circle", "square", "triangle", "diamond"];
  const suiteShape = (suite) => SHAPES[suites.indexOf(suite) % SHAPES.length];

  function marker(shape, x, y, color, size = 5) {
    const attrs = {fill: color, stroke: "#fff", "stroke-width": 1.5};
    if (shape === "square") return svg("rect", {...attrs, x: x - size, y: y - size, width: 2 * size, height: 2 * size});
    if (shape === "circle") return svg("circle", {...attrs, cx: x, cy: y, r: size});
    const s = size * 1.25;
    const d = shape === "triangle" ? `M${x},${y - s}L${x + s},${y + s * 0.8}L${x - s},${y + s * 0.8}Z`
                                   : `M${x},${y - s}L${x + s},${y}L${x},${y + s}L${x - s},${y}Z`;
    return svg("path", {...attrs, d});
  }

  function linearScale(low, high, from, to) {
    return (v) => from + ((v - low) / (high - low || 1)) * (to - from);
  }

  // points: {x, y, yLow, yHigh, color, shape, label, tooltip}; y in [0, 1] (accuracy).
  function scatter(points, {xTitle, yTitle, logX, xFormat}) {
    const W = 560, H = 330, left = 54, right = 18, top = 12, bottom = 46;
    const xs = points.map((p) => p.x);
    let xTicks, x;
    if (logX) {
      const low = Math.floor(Math.log10(Math.min(...xs))), high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...xs))));
      xTicks = [];
      const steps = high - low <= 2 ? [1, 2, 5] : [1];  // a short log axis gets 2 and 5 marks too
      for (let e = low; e <= high; ++e) for (const m of steps) if (e < high || m === 1) xTicks.push(m * Math.pow(10, e));
      const scale = linearScale(low, high, left, W - right);
      x = (v) => scale(Math.log10(v));
    } else {
      xTicks = rb.niceTicks(0, Math.max(...xs) || 1);
      x = linearScale(0, xTicks[xTicks.length - 1], left, W - right);
    }
    const lows = points.map((p) => p.yLow), highs = points.map((p) => p.yHigh);
    const yTicks = rb.niceTicks(Math.max(0, Math.min(...lows) - 0.05) * 100, Math.min(1, Math.max(...highs) + 0.05) * 100);
    const y = linearScale(yTicks[0] / 100, yTicks[yTicks.length - 1] / 100, H - bottom, top);
    const plot = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img"});
    for (const t of yTicks) {
      plot.append(svg("line", {class: "grid", x1: left, x2: W - right, y1: y(t / 100), y2: y(t / 100)}),
                  svg("text", {x: left - 8, y: y(t / 100) + 4, "text-anchor": "end"}, String(t)));
    }
    for (const t of xTicks) {
      plot.append(svg("line", {class: "grid", x1: x(t), x2: x(t), y1: top, y2: H - bottom}),
                  svg("text", {x: x(t), y: H - bottom + 16, "text-anchor": "middle"}, xFormat(t)));
    }
    plot.append(svg("line", {class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom}),
                svg("text", {class: "axis-title", x: (left + W - right) / 2, y: H - 8, "text-anchor": "middle"}, xTitle),
                svg("text", {class: "axis-title", x: -(top + H - bottom) / 2, y: 14, "text-anchor": "middle",
                             transform: "rotate(-90)"}, yTitle));
    const labelled = points.length <= 10;
    for (const p of points) {
      const cx = x(p.x), cy = y(p.y);
      const group = svg("g", {class: "point", "data-run-id": p.runId}, svg("title", {}, p.tooltip),
        svg("line", {x1: cx, x2: cx, y1: y(p.yLow), y2: y(p.yHigh), stroke: p.color, "stroke-width": 1.5,
                     "stroke-opacity": 0.6}),
        marker(p.shape, cx, cy, p.color));
      if (labelled) {
        const anchorEnd = cx > W - 150;
        group.append(svg("text", {class: "point-label", x: cx + (anchorEnd ? -9 : 9), y: cy - 6,
                                  "text-anchor": anchorEnd ? "end" : "start"}, p.label));
      }
      plot.append(group);
    }
    return plot;
  }

  function legend() {
    const models = [...new Set(rows.map((r) => r.model))].sort();
    const items = models.map((m) => el("span", {}, swatch(m), m));
    if (suites.length > 1) {
      for (const s of suites) {
        const icon = svg("svg", {width: 12, height: 12, viewBox: "0 0 12 12"}, marker(suiteShape(s), 6, 6, "#59636e", 4));
        items.push(el("span", {}, icon, s));
      }
    }
    return el("div", {class: "legend"}, items);
  }

  function tooltip(row) {
    const [low, high] = interval(row);
    return `${row.model} on ${row.suite}\navg@k ${rb.percent(row.avg_at_k)}% [${rb.percent(low)}, ${rb.percent(high)}]` +
           `\n$ / run ${rb.money(row.cost_usd)}   $ / solved ${rb.money(row.cost_per_solved_usd)}` +
           `\nthink ${rb.fixed(row.mean_reasoning_tokens)} tok   output ${rb.fixed(row.mean_output_tokens)} tok` +
           `\nrun ${row.run_id}`;
  }

  function accuracyPoints(xOf) {
    return rows.filter((r) => rb.isNumber(xOf(r))).map((r) => ({
      x: xOf(r), y: r.avg_at_k, yLow: interval(r)[0], yHigh: interval(r)[1],
      color: modelColor(r.model), shape: suiteShape(r.suite),
      label: suites.length > 1 ? `${r.model} · ${r.suite}` : r.model, tooltip: tooltip(r), runId: r.run_id}));
  }

  function plotCard(id, title, hint, body) {
    return el("div", {class: "card plot", id}, el("h3", {}, title), el("p", {class: "hint"}, hint), body);
  }

  function costPlot() {
    const points = accuracyPoints((r) => (r.cost_usd > 0 ? r.cost_usd : null));
    const missing = rows.length - points.length;
    const hint = "avg@k with its 95% interval against the run's total cost (log scale)" +
                 (missing ? `; ${missing} run${missing > 1 ? "s" : ""} without a known cost not shown` : "");
    const body = points.length
      ? [scatter(points, {xTitle: "$ per run", yTitle: "avg@k %", logX: true, xFormat: rb.money}), legend()]
      : el("p", {class: "empty"}, "No run has a known cost: price API models with the price table, " +
                                  "self-hosted ones with run --gpu-hour-price.");
    return plotCard("plot-cost", "Accuracy vs cost", hint, body);
  }

  function thinkPlot() {
    const points = accuracyPoints((r) => r.mean_reasoning_tokens);
    return plotCard("plot-think", "Accuracy vs think length",
                    "avg@k with its 95% interval against the mean reasoning tokens per sample",
                    [scatter(points, {xTitle: "mean think tokens per sample", yTitle: "avg@k %", xFormat: rb.compact}),
                     legend()]);
  }

  function histogram(row, bins) {
    const W = 300, H = 120, left = 34, right = 8, top = 6, bottom = 22;
    const total = bins.counts.length * bins.bin_width;
    const yTicks = rb.niceTicks(0, Math.max(1, ...bins.counts), 3).filter((t) => Number.isInteger(t));
    const x = linearScale(0, total, left, W - right);
    const y = linearScale(0, yTicks[yTicks.length - 1], H - bottom, top);
    const plot = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img"});
    for (const t of yTicks) {
      plot.append(svg("line", {class: "grid", x1: left, x2: W - right, y1: y(t), y2: y(t)}),
                  svg("text", {x: left - 5, y: y(t) + 4, "text-anchor": "end"}, rb.compact(t)));
    }
    bins.counts.forEach((count, i) => {
      const from = i * bins.bin_width, to = from + bins.bin_width - 1;
      const bar = svg("rect", {class: "bin", x: x(from) + 0.5, width: Math.max(1, x(bins.bin_width) - x(0) - 1),
                               y: y(count), height: y(0) - y(count), fill: modelColor(row.model), "fill-opacity": 0.8,
                               "data-count": count},
                      svg("title", {}, `${rb.fixed(from)}–${rb.fixed(to)} tokens: ${count} sample${count === 1 ? "" : "s"}`));
      plot.append(bar);
    });
    if (rb.isNumber(row.mean_output_tokens)) {
      const mx = x(Math.min(row.mean_output_tokens, total));
      plot.append(svg("line", {x1: mx, x2: mx, y1: top, y2: H - bottom, stroke: "#1f2328", "stroke-dasharray": "3 3"},
                      svg("title", {}, `mean ${rb.fixed(row.mean_output_tokens)} tokens`)));
    }
    plot.append(svg("line", {class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom}));
    for (const t of rb.niceTicks(0, total, 4).filter((t) => t <= total)) {
      plot.append(svg("text", {x: x(t), y: H - 6, "text-anchor": "middle"}, rb.compact(t)));
    }
    return el("div", {class: "card histogram", "data-run-id": row.run_id},
              el("div", {class: "title"}, swatch(row.model), row.model, el("span", {class: "muted"}, "· " + row.suite)),
              plot);
  }

  function histograms() {
    const byRun = new Map(data.histograms.map((h) => [h.run_id, h]));
    const ordered = [...rows].sort((a, b) => a.suite.localeCompare(b.suite) || a.model.localeCompare(b.model));
    return el("div", {class: "histograms", id: "histograms"},
              ordered.filter((r) => byRun.has(r.run_id)).map((r) => histogram(r, byRun.get(r.run_id))));
  }

  if (!rows.length) {
    app.append(el("p", {class: "card empty"}, "No runs in the store" + (data.tag ? ` tagged ${data.tag}` : "") + "."));
    return;
  }
  rb.append(app, [
    el("h2", {}, "Accuracy by model and suite"),
    el("p", {class: "hint"}, "avg@k % with its 95% interval over questions (* Wilson interval)."),
    matrix(),
    el("h2", {}, "Runs"),
    el("p", {class: "hint"}, "Click a column to sort; hover a header for its definition."),
    sortableTable("runs-table", COLUMNS),
    present("trace.samples") ? [
      el("h2", {}, "Reasoning traces"),
      el("p", {class: "hint"}, "Length, format compliance, language mixing and reflection markers per run."),
      sortableTable("traces-table", TRACE_COLUMNS)] : null,
    el("h2", {}, "Accuracy, cost and length"),
    el("div", {class: "plots"}, costPlot(), thinkPlot()),
    el("h2", {}, "Output tokens per sample"),
    el("p", {class: "hint"}, "One histogram per run, on one axis per suite; the dashed line is the mean."),
    histograms(),
  ]);
})();
