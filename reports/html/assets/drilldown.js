// The drill-down page: every sample of the runs in the page, one page of items at a time (so a run of
// 10k samples with long traces stays responsive), with filters, text search and two runs side by side.
// Long texts (prompts, reasoning, grading details) are put into the document only when opened.
(() => {
  const {el} = rb;
  const data = rb.readData();
  const app = document.getElementById("app");
  const runs = data.runs;
  const VERDICT_ORDER = ["correct", "incorrect", "no_answer", "error"];
  const FACET_PREFERENCE = ["subject", "contest", "difficulty", "category", "level", "exam", "year"];
  const PAGE_SIZES = [10, 25, 50, 100];

  const itemKey = (s) => s.problem + "\u0000" + s.index;
  const samplesByRun = runs.map(() => new Map());
  for (const sample of data.samples) samplesByRun[sample.run].set(itemKey(sample), sample);
  const byProblemId = new Intl.Collator("en", {numeric: true}).compare;

  const promptTexts = data.prompts.map((p) =>
    p.messages ? p.messages.map((m) => m.content).join("\n") + "\n" + (p.prefill || "") : p.text);
  const problemOf = (id) => data.problems[id] || {gold: "", metadata: {}};

  const state = {run: data.open.run, compare: data.open.compare, verdict: "", verdictB: "", finish: "",
                 facet: "", disagree: false, query: "", page: 0, pageSize: 25};

  // ---- filters ----

  function distinct(values, order = []) {
    const set = [...new Set(values)];
    return set.sort((a, b) => {
      const ia = order.indexOf(a), ib = order.indexOf(b);
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib);
      return byProblemId(String(a), String(b));
    });
  }

  // Problem fields worth filtering by: a few distinct values, fewer than the problems themselves.
  function facetFields() {
    const problems = Object.values(data.problems);
    const values = new Map();
    for (const problem of problems) {
      for (const [key, value] of Object.entries(problem.metadata || {})) {
        if (!values.has(key)) values.set(key, new Set());
        values.get(key).add(String(value));
      }
    }
    const fields = [...values.entries()]
      .filter(([, set]) => set.size >= 2 && set.size <= 100 && set.size < problems.length)
      .map(([key, set]) => ({key, values: distinct([...set])}));
    const rank = (key) => (FACET_PREFERENCE.includes(key) ? FACET_PREFERENCE.indexOf(key) : 100);
    return fields.sort((a, b) => rank(a.key) - rank(b.key) || a.key.localeCompare(b.key));
  }
  const facets = facetFields();

  function searchPattern(query, flags) {
    return query ? new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), flags) : null;
  }

  function sampleMatches(sample, pattern) {
    return pattern.test(sample.reasoning) || pattern.test(sample.answer) || pattern.test(sample.extracted) ||
           pattern.test(sample.gold) || pattern.test(sample.error) || pattern.test(promptTexts[sample.prompt]);
  }

  function items() {
    const a = samplesByRun[state.run];
    const b = state.compare === null ? null : samplesByRun[state.compare];
    const keys = new Set(a.keys());
    if (b) for (const key of b.keys()) keys.add(key);
    const list = [...keys].map((key) => {
      const sample = a.get(key) || b.get(key);
      return {problem: sample.problem, index: sample.index, a: a.get(key), b: b ? b.get(key) : undefined};
    });
    return list.sort((x, y) => byProblemId(x.problem, y.problem) || x.index - y.index);
  }

  function matching(all) {
    const pattern = searchPattern(state.query, "i");
    const [facetKey, facetValue] = state.facet ? JSON.parse(state.facet) : [null, null];
    const compare = state.compare !== null;
    return all.filter((item) => {
      const sides = compare ? [item.a, item.b] : [item.a];
      if (state.verdict && (!item.a || item.a.verdict !== state.verdict)) return false;
      if (compare && state.verdictB && (!item.b || item.b.verdict !== state.verdictB)) return false;
      if (compare && state.disagree && (!item.a || !item.b || item.a.verdict === item.b.verdict)) return false;
      if (state.finish && !sides.some((s) => s && s.finish_reason === state.finish)) return false;
      if (facetKey !== null && String(problemOf(item.problem).metadata[facetKey]) !== facetValue) return false;
      if (pattern && !pattern.test(item.problem) && !sides.some((s) => s && sampleMatches(s, pattern))) return false;
      return true;
    });
  }

  // ---- controls ----

  const runLabel = (r) => `${runs[r].model} · ${runs[r].run_id.slice(0, 10)}`;

  function select(id, label, options, value, onchange) {
    const node = el("select", {id, onchange: (e) => onchange(e.target.value)},
                    options.map(([v, text]) => el("option", {value: v}, text)));
    node.value = value;
    return el("label", {class: "field"}, label, node);
  }

  function verdictOptions() {
    const all = distinct(data.samples.map((s) => s.verdict), VERDICT_ORDER);
    return [["", "any"], ...all.map((v) => [v, v.replace("_", " ")])];
  }

  // Filters re-render the results; choosing runs changes the controls themselves, so it rebuilds everything.
  function update(changes) {
    Object.assign(state, changes, {page: 0});
    renderResults();
  }
  function chooseRuns(changes) {
    Object.assign(state, changes, {page: 0, verdictB: "", disagree: false});
    render();
  }

  function toolbar() {
    const compare = state.compare !== null;
    const controls = [];
    if (runs.length > 1) {
      controls.push(select("run-select", compare ? "Run A" : "Run", runs.map((r, i) => [String(i), runLabel(i)]),
                           String(state.run), (v) => {
        const run = +v;
        chooseRuns({run, compare: state.compare === run ? null : state.compare});
      }));
      controls.push(select("compare-select", "Side by side with",
                           [["", "none"], ...runs.map((r, i) => [String(i), runLabel(i)]).filter(([v]) => +v !== state.run)],
                           compare ? String(state.compare) : "", (v) => chooseRuns({compare: v === "" ? null : +v})));
    }
    controls.push(select("verdict-select", compare ? "Verdict A" : "Verdict", verdictOptions(), state.verdict,
                         (v) => update({verdict: v})));
    if (compare) {
      controls.push(select("verdict-b-select", "Verdict B", verdictOptions(), state.verdictB,
                           (v) => update({verdictB: v})));
    }
    const finishes = distinct(data.samples.map((s) => s.finish_reason).filter(Boolean), ["stop", "length"]);
    controls.push(select("finish-select", "Finish reason", [["", "any"], ...finishes.map((f) => [f, f])],
                         state.finish, (v) => update({finish: v})));
    if (facets.length) {
      const facetSelect = el("select", {id: "facet-select", onchange: (e) => update({facet: e.target.value})},
        el("option", {value: ""}, "any"),
        facets.map((f) => el("optgroup", {label: f.key},
          f.values.map((v) => el("option", {value: JSON.stringify([f.key, v])}, `${f.key}: ${v}`)))));
      facetSelect.value = state.facet;
      controls.push(el("label", {class: "field"}, facets.map((f) => f.key).slice(0, 2).join(" / "), facetSelect));
    }
    if (compare) {
      controls.push(el("label", {class: "check"},
        el("input", {type: "checkbox", id: "disagree", checked: state.disagree,
                     onchange: (e) => update({disagree: e.target.checked})}), "verdicts differ"));
    }
    let timer = 0;
    const search = el("input", {type: "search", id: "search", placeholder: "problem id, prompt, reasoning, answer…",
                                value: state.query, oninput: (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => update({query: e.target.value.trim()}), 180);
    }});
    controls.push(el("label", {class: "field search"}, "Search", search));
    return el("div", {class: "card toolbar", id: "toolbar"}, controls);
  }

  // ---- items ----

  function highlighted(text, query) {
    const pattern = searchPattern(query, "gi");
    if (!pattern || !text) return [text];
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      parts.push(text.slice(last, match.index), el("mark", {}, match[0]));
      last = match.index + match[0].length;
      if (parts.length > 4000) break;  // enough to find one's way; the rest stays plain
    }
    parts.push(text.slice(last));
    return parts;
  }

  function countMatches(text, query) {
    const pattern = searchPattern(query, "gi");
    if (!pattern || !text) return 0;
    let count = 0;
    for (const _ of text.matchAll(pattern)) ++count;
    return count;
  }

  // A collapsed section whose body is built on first opening.
  function lazyDetails(className, summary, build) {
    const details = el("details", {class: className}, el("summary", {}, summary));
    details.addEventListener("toggle", () => {
      if (details.open && details.childElementCount === 1) rb.append(details, [build()]);
    });
    return details;
  }

  const textBlock = (text, extra = "") => el("pre", {class: "text " + extra}, highlighted(text, state.query));

  function promptView(index) {
    const prompt = data.prompts[index];
    if (!prompt.messages) return textBlock(prompt.text);
    return el("div", {},
      prompt.messages.map((m) => [el("div", {class: "role"}, m.role), textBlock(m.content)]),
      prompt.prefill ? [el("div", {class: "role"}, "assistant prefill"), textBlock(prompt.prefill)] : null);
  }

  const badge = (verdict) => el("span", {class: "badge " + verdict}, verdict.replace("_", " "));

  function tokensText(s) {
    const cached = s.cached_input_tokens ? ` (${rb.fixed(s.cached_input_tokens)} cached)` : "";
    return `in ${rb.fixed(s.input_tokens)}${cached} · out ${rb.fixed(s.output_tokens)} · think ${rb.fixed(s.reasoning_tokens)}`;
  }

  function facts(s) {
    const rows = [["gold", s.gold], ["extracted", s.extracted || "(none)"], ["score", String(s.score)],
                  ["finish", s.finish_reason || "–"], ["tokens", tokensText(s)], ["latency", rb.seconds(s.latency_s)],
                  ["cost", rb.money(s.cost_usd)]];
    if (rb.isNumber(s.gpu_seconds)) rows.push(["GPU time", rb.seconds(s.gpu_seconds)]);
    return el("dl", {class: "facts"},
              rows.map(([name, value], i) => [el("dt", {}, name),
                                             el("dd", {class: i < 2 ? "mono" : ""}, highlighted(value, i < 2 ? state.query : ""))]));
  }

  function reasoningSummary(s) {
    const matches = countMatches(s.reasoning, state.query);
    return ["Reasoning ", el("span", {class: "muted"},
      `(${rb.fixed(s.reasoning.length)} characters, ${rb.fixed(s.reasoning_tokens)} tokens` +
      (matches ? `, ${matches} match${matches > 1 ? "es" : ""}` : "") + ")")];
  }

  function side(sample, run, letter) {
    const title = el("div", {class: "side-title"}, letter ? `${letter} · ${runs[run].model}` : runs[run].model);
    if (!sample) {
      return el("div", {class: "side", "data-side": letter || "single", "data-run-id": runs[run].run_id}, title,
                el("p", {class: "muted"}, "This run has no sample for this item."));
    }
    title.append(badge(sample.verdict));
    if (sample.finish_reason === "length") title.append(el("span", {class: "badge length"}, "truncated"));
    return el("div", {class: "side", "data-side": letter || "single", "data-run-id": runs[run].run_id,
                      "data-verdict": sample.verdict},
      title, facts(sample),
      sample.error ? [el("div", {class: "label"}, "Error"), el("pre", {class: "text error-text"}, sample.error)] : null,
      el("div", {class: "label"}, "Final answer"),
      textBlock(sample.answer || "(empty)", "answer"),
      sample.reasoning ? lazyDetails("reasoning", reasoningSummary(sample), () => textBlock(sample.reasoning)) : null,
      sample.grading !== undefined
        ? lazyDetails("grading", "Grading details", () =>
            el("pre", {class: "text"}, typeof sample.grading === "string" ? sample.grading
                                                                           : JSON.stringify(sample.grading, null, 2)))
        : null);
  }

  function itemCard(item) {
    const problem = problemOf(item.problem);
    const compare = state.compare !== null;
    const fields = Object.entries(problem.metadata)
      .filter(([key]) => facets.some((f) => f.key === key))
      .map(([key, value]) => `${key}: ${value}`).join(" · ");
    const anySample = item.a || item.b;
    return el("article", {class: "card item", "data-problem": item.problem, "data-index": item.index},
      el("div", {class: "item-head"},
         el("span", {class: "id"}, highlighted(item.problem, state.query)),
         el("span", {class: "meta"}, `sample ${item.index}`),
         fields ? el("span", {class: "meta"}, "· " + fields) : null),
      el("div", {class: "item-body"},
         lazyDetails("prompt", "Prompt", () => promptView(anySample.prompt)),
         el("div", {class: "sides" + (compare ? " two" : "")},
            side(item.a, state.run, compare ? "A" : ""),
            compare ? side(item.b, state.compare, "B") : null)));
  }

  function summary(all, matched) {
    const pages = Math.max(1, Math.ceil(matched.length / state.pageSize));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * state.pageSize;
    const counts = new Map();
    for (const item of matched) if (item.a) counts.set(item.a.verdict, (counts.get(item.a.verdict) || 0) + 1);
    const go = (page) => { state.page = page; renderResults(); window.scrollTo(0, 0); };
    return el("div", {class: "summary"},
      el("div", {},
         el("span", {id: "match-count", "data-count": matched.length},
            matched.length === all.length ? `${all.length} items` : `${matched.length} of ${all.length} items match`),
         matched.length ? ` · showing ${first + 1}–${Math.min(first + state.pageSize, matched.length)}` : ""),
      el("div", {class: "counts"},
         distinct([...counts.keys()], VERDICT_ORDER).map((v) => {
           const b = badge(v);
           b.append(` ${counts.get(v)}`);
           return b;
         })),
      el("div", {class: "pager"},
         select("page-size", "", PAGE_SIZES.map((n) => [String(n), `${n} per page`]), String(state.pageSize),
                (v) => update({pageSize: +v})),
         el("button", {id: "prev-page", disabled: state.page === 0, onclick: () => go(state.page - 1)}, "‹ Prev"),
         el("span", {id: "page-info"}, `page ${state.page + 1} of ${pages}`),
         el("button", {id: "next-page", disabled: state.page >= pages - 1, onclick: () => go(state.page + 1)}, "Next ›")));
  }

  const results = el("div", {id: "results"});

  function renderResults() {
    const all = items();
    const matched = matching(all);
    const head = summary(all, matched);
    const shown = matched.slice(state.page * state.pageSize, (state.page + 1) * state.pageSize);
    results.replaceChildren(head,
      el("div", {id: "items"}, shown.length ? shown.map(itemCard)
                                            : el("p", {class: "card empty"}, "No item matches these filters.")));
  }

  function render() {
    app.replaceChildren(toolbar(), results);
    renderResults();
  }

  if (!data.samples.length) {
    app.append(el("p", {class: "card empty"}, "These runs have no stored samples yet."));
    return;
  }
  render();
})();
