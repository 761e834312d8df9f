// Search benchmark in headless Chromium: index size per mentor, bytes and requests before the
// first result of a text query (cold), and time per query (warm), for registers of N mentors.
//
//   cargo build --release
//   python3 benches/build.py --n 1000 5000 --runs 1      # makes target/bench/reg-N
//   (cd tests/browser && npm ci) && node benches/search.mjs 1000 5000
//
// Sizes are gzip -6 of what the server sends (hosts compress JSON, JS and HTML).
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const require = createRequire(join(repo, "tests", "browser", "package.json"));
const { chromium } = require("playwright-core");
const bin = process.env.MENTORSITE_BIN || join(repo, "target", "release", "mentorsite");
const gz = (buf) => gzipSync(buf, { level: 6 }).length;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (b) => (b / 1024).toFixed(1) + " KB";

async function serve(root) {
  const child = spawn(bin, ["serve", "--port", "0", "--root", root], { stdio: ["ignore", "pipe", "ignore"] });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("serve did not start")), 120_000);
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      const m = out.match(/Serving the site at (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return { child, url };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});
for (const n of process.argv.slice(2).map(Number)) {
  const root = join(repo, "target", "bench", `reg-${n}`);
  const { child, url } = await serve(root);
  try {
    const dir = join(root, "public", "search");
    const indexBytes = readdirSync(dir).reduce((s, f) => s + gz(readFileSync(join(dir, f))), 0);
    const html = readFileSync(join(root, "public", "index.html"));

    // Cold: a fresh context, a text query in the URL, until its results are on screen.
    const context = await browser.newContext();
    const page = await context.newPage();
    const fetched = [];
    page.on("response", async (res) => {
      const u = new URL(res.url());
      // Search costs only: the script and the index (not the page, its CSS or the photos).
      if (!u.pathname.endsWith(".js") && !u.pathname.includes("/search/")) return;
      try { fetched.push([u.pathname, gz(await res.body())]); } catch { /* redirects */ }
    });
    await page.goto(`${url}/?q=leadership`);
    await page.waitForFunction(() => document.getElementById("results").dataset.applied === "?q=leadership", null, { timeout: 60_000 });
    await page.waitForTimeout(200);
    const cold = [...fetched];
    const coldBytes = cold.reduce((s, [, b]) => s + b, 0);

    // Warm: queries whose shards are loaded; time from submit to results on screen.
    const queries = ["leader", "leadership", "policy", "confidence", "mentoring", "data", "promotion", "career",
      "feedback", "resilience", "coaching", "priya", "london", "digital", "structured", "honest", "goals",
      "network", "delivery", "balance"];
    for (const q of queries) await page.evaluate((q) => fetch("/?q=" + q), q); // no-op warm-up of the server
    const times = [];
    for (const q of [...queries, ...queries]) {
      const ms = await page.evaluate(async (q) => {
        const input = document.getElementById("finder-q"), list = document.getElementById("results");
        input.value = q;
        const target = "?" + new URLSearchParams({ q }).toString();
        const t0 = performance.now();
        document.getElementById("finder").requestSubmit();
        while (list.dataset.applied !== target) await new Promise((r) => setTimeout(r, 0));
        return performance.now() - t0;
      }, q);
      times.push(ms);
    }
    const warm = times.slice(queries.length); // second pass: every shard cached
    console.log(`N=${n}`);
    console.log(`  index: ${kb(indexBytes)} gzipped, ${Math.round(indexBytes / n)} B per mentor, ${readdirSync(dir).length} files`);
    console.log(`  register page HTML: ${kb(gz(html))} gzipped (${kb(html.length)} raw), every card in it`);
    console.log(`  cold text query: ${kb(coldBytes)} in ${cold.length} requests before the first result: ` +
      cold.map(([p, b]) => `${p.split("/").pop().split("?")[0]} ${kb(b)}`).join(", "));
    console.log(`  warm query, submit to results on screen: median ${median(warm).toFixed(1)} ms, ` +
      `max ${Math.max(...warm).toFixed(1)} ms over ${warm.length}`);
    await context.close();
  } finally {
    child.kill("SIGINT");
  }
}
await browser.close();
