// The HTML reports in headless Chromium, on a store made by real `rbench run`s (built-in engine and
// replayed API models): the leaderboard renders with the report's numbers and sorts; the drill-down
// filters, searches, pages and shows two runs side by side; a hostile trace stays text; nothing is fetched.
// Usage: node report_pages.test.mjs PATH/TO/rbench   (ctest runs it through run_browser_tests.sh)
import {after, before, test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import {buildStore, HOSTILE, NEEDLE, openBrowser, runCommand} from "./fixture.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const rbench = process.argv[2] || process.env.RBENCH_BINARY;
let dir, store, browser;
const pages = {};

// Counts straight from the database with the sqlite3 shell, independent of the page's own logic.
const sql = (query) => Number(runCommand("sqlite3", [store.db, query]).trim());

before(async () => {
  if (!rbench || !fs.existsSync(rbench)) throw new Error(`usage: report_pages.test.mjs PATH/TO/rbench (got '${rbench}')`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbench-browser-"));
  browser = await openBrowser(path.join(dir, "profile"));
  store = buildStore({rbench, root: path.resolve(here, "../.."), dir});
  const report = (name, args) => {
    pages[name] = path.join(dir, `${name}.html`);
    runCommand(rbench, ["report", ...args, "--db", store.db, "--output", pages[name]]);
  };
  report("leaderboard", ["leaderboard", "--format", "html"]);
  report("engines", ["drilldown", "--run", store.runId["arith-moe-early"], "--compare", store.runId["arith-moe"]]);
  report("suite", ["drilldown", "--suite", "arith"]);
});

after(async () => {
  await browser?.context.close();
  if (dir) fs.rmSync(dir, {recursive: true, force: true});
});

// Opens a page and fails the test on any script error, console error (CSP violations are reported there)
// or request that left the file.
async function open(name, t) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => { if (message.type() === "error") problems.push(`console: ${message.text()}`); });
  await page.goto("file://" + pages[name]);
  t.after(async () => {
    await page.close();
    assert.deepEqual(problems, []);
    assert.deepEqual(browser.outside, [], "the page asked for something outside the file");
  });
  return page;
}

const cellTexts = (page, key) =>
  page.$$eval(`#runs-table tbody td[data-key="${key}"]`, (cells) => cells.map((c) => c.textContent));
const matchCount = async (page) => Number(await page.getAttribute("#match-count", "data-count"));

test("leaderboard: one row per run with the report's numbers, and the matrix", async (t) => {
  const page = await open("leaderboard", t);
  assert.equal(await page.locator("#runs-table tbody tr").count(), store.rows.length);
  assert.equal(store.rows.length, 4);
  for (const row of store.rows) {
    const tr = page.locator(`#runs-table tbody tr[data-run-id="${row.run_id}"]`);
    assert.equal(await tr.locator('td[data-key="model"]').textContent(), row.model);
    assert.equal(await tr.locator('td[data-key="samples"]').textContent(), String(row.samples));
    const percent = (x) => (100 * x).toFixed(1);
    assert.equal(await tr.locator('td[data-key="avg_at_k"]').textContent(),
                 `${percent(row.avg_at_k)} [${percent(row.ci_low)}, ${percent(row.ci_high)}]` +
                 (row.ci_method === "wilson" ? "*" : ""));
    assert.equal(await tr.locator('td[data-key="cons_at_k"]').textContent(), percent(row.cons_at_k));
  }
  assert.equal(await page.locator("#matrix tbody tr").count(), 4);  // four models, one suite
  assert.equal(await page.locator("#matrix thead th").count(), 2);
  assert.equal(await page.locator("#traces-table tbody tr").count(), store.rows.length);
});

test("leaderboard: clicking a header sorts by it, clicking again reverses", async (t) => {
  const page = await open("leaderboard", t);
  const accuracies = async () => (await cellTexts(page, "avg_at_k")).map((text) => parseFloat(text));
  const expected = store.rows.map((r) => +(100 * r.avg_at_k).toFixed(1)).sort((a, b) => b - a);
  await page.click('#runs-table th[data-key="avg_at_k"]');
  assert.deepEqual(await accuracies(), expected);
  assert.equal(await page.getAttribute('th[data-key="avg_at_k"]', "aria-sort"), "descending");
  await page.click('#runs-table th[data-key="avg_at_k"]');
  assert.deepEqual(await accuracies(), [...expected].reverse());
  await page.click('#runs-table th[data-key="model"]');
  assert.deepEqual(await cellTexts(page, "model"), store.rows.map((r) => r.model).sort((a, b) => a.localeCompare(b)));
  // Runs without a cost sort last whichever way.
  await page.click('#runs-table th[data-key="cost_usd"]');
  const costs = await cellTexts(page, "cost_usd");
  assert.deepEqual(costs.slice(2), ["–", "–"]);
  assert.ok(parseFloat(costs[0].slice(1)) >= parseFloat(costs[1].slice(1)), costs.join(", "));
});

test("leaderboard: plots have a point per run and histograms hold every sample", async (t) => {
  const page = await open("leaderboard", t);
  const priced = store.rows.filter((r) => r.cost_usd > 0);
  assert.equal(priced.length, 2);  // the replayed API models; the engine runs on the CPU have no cost
  assert.equal(await page.locator("#plot-cost g.point").count(), priced.length);
  assert.equal(await page.locator("#plot-think g.point").count(), store.rows.length);
  assert.equal(await page.locator("#histograms .histogram").count(), store.rows.length);
  for (const row of store.rows) {
    const counts = await page.$$eval(`#histograms .histogram[data-run-id="${row.run_id}"] rect.bin`,
                                     (bars) => bars.map((b) => Number(b.getAttribute("data-count"))));
    assert.equal(counts.reduce((a, b) => a + b, 0), row.samples, row.model);
  }
});

test("drill-down: two runs side by side, verdict filters and the disagreement filter", async (t) => {
  const page = await open("engines", t);
  const [early, late] = [store.runId["arith-moe-early"], store.runId["arith-moe"]];
  assert.equal(await matchCount(page), 24);  // 12 problems x 2 samples, both runs
  const first = page.locator("article.item").first();
  assert.equal(await first.locator('.side[data-side="A"]').getAttribute("data-run-id"), early);
  assert.equal(await first.locator('.side[data-side="B"]').getAttribute("data-run-id"), late);
  assert.ok((await first.locator('.side[data-side="B"] pre.answer').textContent()).length > 0);

  const incorrect = sql(`SELECT count(*) FROM samples WHERE run_id = '${early}' AND verdict = 'incorrect'`);
  await page.selectOption("#verdict-select", "correct");
  assert.equal(await matchCount(page),
               sql(`SELECT count(*) FROM samples WHERE run_id = '${early}' AND verdict = 'correct'`));
  await page.selectOption("#verdict-select", "incorrect");
  assert.equal(await matchCount(page), incorrect);
  for (const verdict of await page.$$eval('.side[data-side="A"]', (s) => s.map((x) => x.dataset.verdict))) {
    assert.equal(verdict, "incorrect");
  }
  await page.selectOption("#verdict-select", "");
  await page.check("#disagree");
  const differing = sql(`SELECT count(*) FROM samples a JOIN samples b USING (problem_id, sample_index)
                         WHERE a.run_id = '${early}' AND b.run_id = '${late}' AND a.verdict <> b.verdict`);
  assert.ok(differing > 0, "the early checkpoint should miss some problems the trained one solves");
  assert.equal(await matchCount(page), differing);
  assert.equal(await page.locator("article.item").count(), Math.min(differing, 25));
});

test("drill-down: paging shows a page of items at a time", async (t) => {
  const page = await open("engines", t);
  await page.selectOption("#page-size", "10");
  assert.equal(await page.textContent("#page-info"), "page 1 of 3");
  assert.equal(await page.locator("article.item").count(), 10);
  await page.click("#next-page");
  await page.click("#next-page");
  assert.equal(await page.textContent("#page-info"), "page 3 of 3");
  assert.equal(await page.locator("article.item").count(), 4);
  assert.ok(await page.isDisabled("#next-page"));
});

async function chooseRun(page, model) {
  const value = await page.$eval("#run-select", (select, name) =>
    [...select.options].find((o) => o.textContent.startsWith(name + " ")).value, model);
  await page.selectOption("#run-select", value);
}

test("drill-down: a hostile trace and answer are shown as text and never run", async (t) => {
  const page = await open("suite", t);
  assert.equal(await page.locator("#run-select option").count(), 4);
  await chooseRun(page, "deepseek-reasoner");
  await page.fill("#search", "__pwned");
  await page.waitForFunction(() => document.querySelector("#match-count").dataset.count === "1");
  const item = page.locator("article.item");
  assert.match(await item.locator("pre.answer").textContent(), /<img src=x onerror="window.__pwned=1">/);
  await item.locator("details.reasoning > summary").click();
  const trace = await item.locator("details.reasoning pre").textContent();
  assert.ok(trace.includes(HOSTILE), trace.slice(0, 200));
  assert.ok(trace.includes("</script><b>not bold</b>"));
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator("#items img, #items script, #items b").count(), 0);
  assert.ok(await page.getByText(HOSTILE, {exact: false}).first().isVisible());
});

test("drill-down: search finds text inside a reasoning trace and marks it", async (t) => {
  const page = await open("suite", t);
  await chooseRun(page, "deepseek-reasoner");
  await page.fill("#search", NEEDLE.toUpperCase());  // case-insensitive
  await page.waitForFunction(() => document.querySelector("#match-count").dataset.count === "1");
  const summary = page.locator("article.item details.reasoning > summary");
  assert.match(await summary.textContent(), /1 match\)/);
  await summary.click();
  assert.equal(await page.textContent("article.item details.reasoning mark"), NEEDLE);
  await page.fill("#search", "no such text anywhere");
  await page.waitForFunction(() => document.querySelector("#match-count").dataset.count === "0");
});

test("drill-down: finish reason and problem field filters", async (t) => {
  const page = await open("suite", t);
  await chooseRun(page, "o3-mini");
  const run = store.runId["o3-mini"];
  await page.selectOption("#finish-select", "length");
  assert.equal(await matchCount(page), 1);
  assert.equal(await page.getAttribute('.side[data-side="single"]', "data-verdict"), "no_answer");
  await page.selectOption("#finish-select", "");
  await page.selectOption("#verdict-select", "incorrect");
  assert.equal(await matchCount(page),
               sql(`SELECT count(*) FROM samples WHERE run_id = '${run}' AND verdict = 'incorrect'`));
  await page.selectOption("#verdict-select", "");
  const option = await page.$eval("#facet-select", (s) => s.options[1].value);
  const [key, value] = JSON.parse(option);
  await page.selectOption("#facet-select", option);
  assert.equal(await matchCount(page), sql(
    `SELECT count(*) FROM samples s JOIN runs r ON r.run_id = s.run_id
     JOIN problems p ON p.suite_id = r.suite_id AND p.problem_id = s.problem_id
     WHERE s.run_id = '${run}' AND CAST(json_extract(p.metadata, '$.${key}') AS TEXT) = '${value}'`));
});
