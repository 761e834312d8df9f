// Search benchmark in headless Chromium, for registers of N mentors: the register page, and
// everything a cold visit to `/?q=leadership` downloads before the first result is on screen
// (and before the whole first screen of results is), in bytes and requests; the index's size
// per mentor; and time per query once warm.
//
//   cargo build --release
//   python3 benches/build.py --n 1000 5000 20000 --runs 1   # makes target/bench/reg-N
//   (cd tests/browser && npm ci) && node benches/search.mjs 1000 5000 20000
//
// The built `public/` folder is served by a plain static server on 127.0.0.1 (not `serve`,
// which adds its live-reload script). Sizes are gzip -6 of each body (hosts compress HTML, CSS,
// JS and JSON). Photos and the favicon are counted apart: they do not hold up the text.
import { createServer } from "node:http";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, dirname, extname, normalize } from "node:path";
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

const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript",
  ".json": "application/json", ".svg": "image/svg+xml", ".webp": "image/webp", ".jpg": "image/jpeg",
  ".xml": "application/xml" };

/** A static server for `dir` on a loopback port, as a host would serve the output. */
async function serve(dir) {
  const server = createServer((req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path.endsWith("/")) path += "index.html";
    const file = join(dir, path);
    try {
      if (!file.startsWith(dir) || !statSync(file).isFile()) throw new Error("not found");
      res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});
for (const n of process.argv.slice(2).map(Number)) {
  const root = join(repo, "target", "bench", `reg-${n}`);
  const { server, url } = await serve(join(root, "public"));
  try {
    const dir = join(root, "public", "search");
    const index = readdirSync(dir).filter((f) => !f.startsWith("c"));
    const indexBytes = index.reduce((s, f) => s + gz(readFileSync(join(dir, f))), 0);
    const html = readFileSync(join(root, "public", "index.html"));

    // Cold: a fresh context, a one-word query in the URL, until its first result is on screen
    // and until the first screen of results is.
    const context = await browser.newContext();
    const page = await context.newPage();
    const fetched = [];
    page.on("response", async (res) => {
      const u = new URL(res.url());
      // Photos and the favicon load beside the text and do not hold up the first result.
      const apart = res.request().resourceType() === "image" || u.pathname.endsWith("/favicon.svg");
      try { fetched.push([u.pathname, gz(await res.body()), apart]); } catch { /* redirects */ }
    });
    await page.goto(`${url}/?q=leadership`);
    await page.waitForFunction(() => document.getElementById("results").dataset.first === "?q=leadership", null, { timeout: 60_000 });
    await page.waitForFunction(() => document.getElementById("results").dataset.applied === "?q=leadership", null, { timeout: 60_000 });
    await page.waitForTimeout(200);
    // What had arrived when the first result was put on screen (by the page's own clock).
    const before = new Set(await page.evaluate(() => {
      const at = Number(document.getElementById("results").dataset.firstAt);
      return performance.getEntriesByType("resource").filter((e) => e.responseEnd <= at)
        .map((e) => new URL(e.name).pathname).concat([location.pathname]);
    }));
    const first = fetched.filter(([p, , apart]) => !apart && before.has(p));
    const firstImages = fetched.filter(([p, , apart]) => apart && before.has(p));
    const screen = fetched.filter(([, , image]) => !image);
    const sum = (xs) => xs.reduce((s, [, b]) => s + b, 0);
    const names = (xs) => xs.map(([p, b]) => `${p.split("/").pop().split("?")[0] || "index.html"} ${kb(b)}`).join(", ");

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
    console.log(`  index without card chunks: ${kb(indexBytes)} gzipped, ${Math.round(indexBytes / n)} B per mentor, ${index.length} files`);
    console.log(`  register page HTML: ${kb(gz(html))} gzipped (${kb(html.length)} raw)`);
    console.log(`  first result of ?q=leadership, cold: ${kb(sum(first))} in ${first.length} requests (${names(first)}); ` +
      `photos and favicon apart: ${kb(sum(firstImages))} in ${firstImages.length}`);
    console.log(`  whole first screen of results: ${kb(sum(screen))} in ${screen.length} requests`);
    console.log(`  warm query, submit to results on screen: median ${median(warm).toFixed(1)} ms, ` +
      `max ${Math.max(...warm).toFixed(1)} ms over ${warm.length}`);
    await context.close();
  } finally {
    server.close();
  }
}
await browser.close();
