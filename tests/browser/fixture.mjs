// Builds a store from real rbench runs, for the browser tests and the README screenshots:
// the two bundled models on `arith` through the built-in engine (CPU), and two "API models" replayed
// from files derived from the suite's reference solutions (priced from the built-in price table), one of
// them with a hostile trace and answer.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">';
export const NEEDLE = "zebra-needle-42";

export function runCommand(binary, args) {
  const result = spawnSync(binary, args, {encoding: "utf8", maxBuffer: 1 << 30});
  if (result.error) throw new Error(`cannot run ${binary}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${binary} ${args.join(" ")} exited with ${result.status}:\n${result.stderr}`);
  }
  return result.stdout;
}

// A stable number in [0, 1) from a string (FNV-1a), so every build of the store is the same.
function unit(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; ++i) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash / 2 ** 32;
}

const CHECKS = ["Let me double-check the last step.", "Wait, recount the total from the start.",
                "Alternatively, add the numbers in a different order.", "Hmm, verify the multiplication again."];

function padded(reasoning, key, longest) {
  const extra = Math.floor(unit(key) ** 2 * longest);
  const lines = [reasoning];
  for (let i = 0; i < extra; ++i) lines.push(CHECKS[(i + key.length) % CHECKS.length] + " " + reasoning.split("\n")[0]);
  return lines.join("\n");
}

function usage(reasoning, content) {
  const reasoningTokens = Math.ceil(reasoning.length / 4);
  return {prompt_tokens: 84, completion_tokens: reasoningTokens + Math.ceil(content.length / 4),
          completion_tokens_details: {reasoning_tokens: reasoningTokens}};
}

// The reference completions, rewritten as `model` would answer: some wrong, some long, one cut off.
function replayCompletions(reference, model) {
  return reference.map((line, n) => {
    const key = `${model}/${line.problem_id}/${line.sample_index}`;
    const gold = Number(/\\boxed\{(-?\d+)\}/.exec(line.content)[1]);
    let reasoning = padded(line.reasoning_content, key, model === "o3-mini" ? 30 : 70);
    let content = line.content;
    let finishReason = "stop";
    if (model === "o3-mini" && unit(key + "wrong") < 0.3) content = `The answer is $\\boxed{${gold + 1}}$.`;
    if (model === "o3-mini" && n === 6) {
      finishReason = "length";
      content = "";
      reasoning += "\nLet me recount everything once more from the beginning,";
    }
    if (model === "deepseek-reasoner" && n === 0) {
      reasoning = `${HOSTILE}\n</script><b>not bold</b>\n${reasoning}`;
      content = `<img src=x onerror="window.__pwned=1"> ${content}`;
    }
    if (model === "deepseek-reasoner" && n === 5) reasoning += `\nA marker for the search test: ${NEEDLE}.`;
    return {problem_id: line.problem_id, sample_index: line.sample_index, model, reasoning_content: reasoning,
            content, finish_reason: finishReason, usage: usage(reasoning, content),
            latency_s: 2 + 30 * unit(key + "latency")};
  });
}

// Returns {db, rows, runId: {model: run id}}.
export function buildStore({rbench, root, dir, limit = 12, samples = 2}) {
  const db = path.join(dir, "runs.db");
  const common = ["--suite", "arith", "--limit", String(limit), "--samples", String(samples), "--db", db];
  for (const model of ["arith-moe-early", "arith-moe"]) {
    runCommand(rbench, ["run", "--model", "engine:" + path.join(root, "models", model), ...common]);
  }
  const reference = runCommand(rbench, ["suites", "export", "arith", "--as-replay", "--limit", String(limit),
                                        "-k", String(samples)])
    .trim().split("\n").map((line) => JSON.parse(line));
  for (const model of ["deepseek-reasoner", "o3-mini"]) {
    const file = path.join(dir, `${model}.jsonl`);
    fs.writeFileSync(file, replayCompletions(reference, model).map((c) => JSON.stringify(c)).join("\n") + "\n");
    runCommand(rbench, ["run", "--model", "replay:" + file, ...common]);
  }
  const rows = JSON.parse(runCommand(rbench, ["report", "--db", db, "--format", "json"]));
  return {db, rows, runId: Object.fromEntries(rows.map((row) => [row.model, row.run_id]))};
}

export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const here = path.dirname(new URL(import.meta.url).pathname);

// Chromium from Debian (RBENCH_CHROMIUM overrides) with playwright-core from ./node_modules, on a fresh
// profile; every request that is not for a file: URL is refused and recorded, so a page that tried to
// reach the network would be caught. Missing pieces are an error that says how to install them.
export async function openBrowser(profileDir) {
  const executablePath = process.env.RBENCH_CHROMIUM || "/usr/bin/chromium";
  const setup = "run scripts/setup.sh (it installs the chromium package and runs `npm ci` in tests/browser)";
  if (!fs.existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}: ${setup}`);
  if (!fs.existsSync(path.join(here, "node_modules", "playwright-core"))) {
    throw new Error(`tests/browser/node_modules/playwright-core is missing: ${setup}`);
  }
  const {chromium} = await import("playwright-core");
  const context = await chromium.launchPersistentContext(profileDir, {executablePath, headless: true,
                                                                      args: CHROMIUM_ARGS});
  context.setDefaultTimeout(10000);  // a missing element fails in seconds, not the default 30
  const outside = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    outside.push(url);
    return route.abort();
  });
  return {context, outside};
}
