// Renders the README's screenshots of the HTML reports from a store of real runs (see fixture.mjs):
// docs/images/leaderboard.png and docs/images/drilldown.png.
// Usage: node tests/browser/screenshots.mjs PATH/TO/rbench
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import {buildStore, openBrowser, runCommand} from "./fixture.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "../..");
const rbench = process.argv[2];
if (!rbench || !fs.existsSync(rbench)) {
  console.error("usage: node tests/browser/screenshots.mjs PATH/TO/rbench");
  process.exit(2);
}
const images = path.join(root, "docs", "images");
fs.mkdirSync(images, {recursive: true});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbench-screenshots-"));
try {
  const store = buildStore({rbench, root, dir, limit: 40, samples: 4});
  const leaderboard = path.join(dir, "leaderboard.html");
  const drilldown = path.join(dir, "drilldown.html");
  runCommand(rbench, ["report", "leaderboard", "--format", "html", "--db", store.db, "--output", leaderboard]);
  runCommand(rbench, ["report", "drilldown", "--db", store.db, "--output", drilldown,
                      "--run", store.runId["arith-moe-early"], "--compare", store.runId["arith-moe"]]);
  const browser = await openBrowser(path.join(dir, "profile"));
  const page = await browser.context.newPage();
  await page.setViewportSize({width: 1500, height: 1000});

  await page.goto("file://" + leaderboard);
  await page.click('#runs-table th[data-key="avg_at_k"]');
  await page.screenshot({path: path.join(images, "leaderboard.png"), fullPage: true});

  await page.goto("file://" + drilldown);
  await page.check("#disagree");
  await page.locator("article.item").first().locator("details.reasoning > summary").first().click();
  await page.locator("article.item").first().locator("details.reasoning > summary").last().click();
  await page.screenshot({path: path.join(images, "drilldown.png")});
  await browser.context.close();
  console.log(`wrote ${path.join(images, "leaderboard.png")} and ${path.join(images, "drilldown.png")}`);
} finally {
  fs.rmSync(dir, {recursive: true, force: true});
}
