// The register as a person uses it, in a real headless Chromium (Debian's `chromium`), against
// the real `mentorsite serve` on a loopback port. Run by .ci/run:
//   cargo build && (cd tests/browser && npm ci && npm test)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const bin = process.env.MENTORSITE_BIN || join(repo, "target", "debug", "mentorsite");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let server, base, browser, root;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "mentorsite-browser-"));
  for (const part of ["site.toml", "content", "themes"]) cpSync(join(repo, part), join(root, part), { recursive: true });
  server = spawn(bin, ["serve", "--port", "0", "--root", root], { stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("serve did not start within 60 s")), 60_000);
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/Serving the site at (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill("SIGINT");
    await new Promise((r) => { const t = setTimeout(r, 10_000); server.on("exit", () => { clearTimeout(t); r(); }); });
  }
  rmSync(root, { recursive: true, force: true });
});

async function register(path = "/", options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(base + path);
  return { page, context };
}

const visibleNames = (page) =>
  page.$$eval("#results > li:not([hidden]) h3", (hs) => hs.map((h) => h.textContent.trim()));

/** Type `text` in the search box and wait until its results are on screen. */
async function search(page, text) {
  await page.getByRole("searchbox", { name: "Search" }).fill(text);
  const expected = "?" + new URLSearchParams({ q: text }).toString();
  await page.waitForFunction((e) => document.getElementById("results").dataset.applied === e, expected);
}

/** Wait until the script has applied the page's state (nothing typed: the page's own cards). */
async function ready(page) {
  await page.waitForFunction(() => document.getElementById("results").dataset.applied !== undefined);
}

async function waitForStatus(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById("finder-status").textContent), re.source);
}

test("only mentors taking requests are shown by default, and the box widens it", async () => {
  const { page, context } = await register();
  await ready(page);
  const names = await visibleNames(page);
  assert.equal(names.length, 20, names.join(", "));
  assert.equal(await page.locator("#finder-status").textContent(),
    "20 mentors on this page taking requests now; 4 more not taking requests are hidden.");
  assert.ok(!names.includes("Zoë Achterberg"), "full mentors hidden by default");
  await page.getByLabel("Only mentors taking requests now").uncheck();
  await waitForStatus(page, /^26 mentors match\.$/);
  assert.match(page.url(), /[?&]all=1/);
  await context.close();
});

test("typing narrows the list, forgiving accents, prefixes and a typo", async () => {
  const { page, context } = await register();
  await ready(page);
  await search(page, "siobhan");
  assert.equal(await page.locator("#finder-status").textContent(), "1 mentor matches, all taking requests now.");
  assert.deepEqual(await visibleNames(page), ["Siobhán Ní Bhriain"]);
  await search(page, "anaesthet");
  const prefix = await visibleNames(page);
  await search(page, "anaesthetcs");
  assert.deepEqual((await visibleNames(page)).sort(), prefix.sort(), "one missing letter is forgiven");
  assert.ok(prefix.includes("Łukasz Wójcik") && prefix.includes("Aoife Murphy"), prefix.join(", "));
  assert.match(page.url(), /q=anaesthetcs/);
  await context.close();
});

test("a filter narrows the list, shows counts and goes in the URL; the URL restores it", async () => {
  const { page, context } = await register();
  await ready(page);
  await page.locator("#finder-filters > summary").click();
  const leeds = page.locator('fieldset[data-facet="region"] label', { hasText: "Leeds" });
  const count = Number(await leeds.locator(".count").textContent());
  await leeds.locator("input").check();
  await page.waitForURL(/region=leeds/);
  await waitForStatus(page, new RegExp(`^${count} mentors match`));
  const names = await visibleNames(page);
  assert.equal(names.length, count);
  const regions = await page.$$eval("#results > li:not([hidden]) article", (as) => as.map((a) => a.dataset.region));
  assert.ok(regions.every((r) => r === "leeds"), regions.join(","));

  // OR within a field, AND across fields. A long list folds after eight values.
  const york = page.locator('fieldset[data-facet="region"] label', { hasText: "York" });
  if (!(await york.isVisible())) await page.locator('fieldset[data-facet="region"] .more-options > summary').click();
  await york.locator("input").check();
  await page.waitForURL(/region=leeds%2Cyork|region=leeds,york/);
  await page.locator('fieldset[data-facet="meeting"] label', { hasText: "Phone" }).locator("input").check();
  await page.waitForURL(/meeting=phone/);
  await waitForStatus(page, /match/);
  const url = page.url();
  const combined = await visibleNames(page);
  const cards = await page.$$eval("#results > li:not([hidden]) article", (as) =>
    as.map((a) => [a.dataset.region, a.dataset.meeting]));
  assert.ok(cards.every(([r, m]) => (r === "leeds" || r === "york") && m.split(" ").includes("phone")), JSON.stringify(cards));

  // Back undoes one filter at a time.
  await page.goBack();
  await page.waitForURL((u) => !/meeting=/.test(u.search));
  await waitForStatus(page, /match/);
  assert.equal(await page.locator('fieldset[data-facet="meeting"] input[value="phone"]').isChecked(), false);

  // A copied link opens the same results.
  const again = await context.newPage();
  await again.goto(url);
  await waitForStatus(again, /match/);
  assert.deepEqual((await visibleNames(again)).sort(), combined.sort());
  assert.equal(await again.locator('fieldset[data-facet="region"] input[value="york"]').isChecked(), true);
  await context.close();
});

test("a mentor whose away date has passed is shown as taking requests", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.clock.setFixedTime(new Date("2027-02-01T10:00:00"));
  await page.goto(base + "/");
  await ready(page);
  assert.ok((await visibleNames(page)).includes("Tomáš Hrubý"), "back from being away");
  const badge = await page.locator('li[data-slug="tomas-hruby"] .status').textContent();
  assert.equal(badge.trim(), "Taking requests");
  await context.close();
});

test("without JavaScript every mentor is listed and reachable, and filter pages work", async () => {
  const { page, context } = await register("/", { javaScriptEnabled: false });
  assert.equal(await page.locator("#finder").isVisible(), false, "no dead form without JavaScript");
  // The register comes in pages: the first screen of cards, then "Next".
  const links = await page.$$eval("#results h3 a", (as) => as.map((a) => a.href));
  assert.equal(links.length, 24);
  assert.equal(await page.locator('.pager [aria-current="page"]').textContent(), "Page 1");
  await page.getByRole("link", { name: "Next page" }).click();
  await page.waitForURL(/\/page\/2\/$/);
  links.push(...await page.$$eval("#results h3 a", (as) => as.map((a) => a.href)));
  assert.equal(new Set(links).size, 26, "every mentor once, over the pages");
  assert.equal(await page.getByRole("link", { name: "Next page" }).count(), 0, "the last page");
  await page.getByRole("link", { name: "Previous page" }).click();
  await page.waitForURL((u) => u.pathname === "/");
  for (const link of links) {
    const res = await page.request.get(link);
    assert.equal(res.status(), 200, link);
  }
  await page.locator(".browse summary", { hasText: "Region" }).click();
  await page.getByRole("link", { name: /^Leeds/ }).click();
  await page.waitForURL(/\/mentors\/by\/region\/leeds\/$/);
  assert.ok((await page.locator(".cards > li").count()) > 0);
  await context.close();
});

test("the browser tokenizes exactly as the build does", async () => {
  const { page, context } = await register();
  // The same vectors as tokenizer_folds_case_and_accents_and_drops_stopwords in src/render/search.rs.
  const vectors = [
    ["Siobhán Ní Bhriain", ["siobhan", "ni", "bhriain"]],
    ["Łukasz WÓJCIK, the ST4", ["łukasz", "wojcik", "st4"]],
    ["Obstetrics and Gynaecology", ["obstetrics", "gynaecology"]],
    ["I am a GP; I'm (very) happy!", ["am", "gp", "very", "happy"]],
    ["Ayşe Yıldız", ["ayse", "yıldız"]],
  ];
  for (const [text, tokens] of vectors) {
    assert.deepEqual(await page.evaluate((t) => window.mentorsiteTokenize(t), text), tokens, text);
  }
  await context.close();
});

for (const path of ["/", "/page/2/", "/mentors/amara-okafor/", "/handbook/policies/", "/mentors/by/region/leeds/"]) {
  test(`axe-core finds no WCAG 2.2 AA violation on ${path}`, async () => {
    for (const colorScheme of ["light", "dark"]) {
      const { page, context } = await register(path, { colorScheme });
      if (path === "/" || path === "/page/2/") await ready(page);
      await page.addScriptTag({ path: axePath });
      const result = await page.evaluate(() =>
        window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }));
      const problems = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")})`);
      assert.deepEqual(problems, [], `${colorScheme}: ${problems.join("\n")}`);
      await context.close();
    }
  });
}

test("the register works on a 320 px wide phone without sideways scrolling", async () => {
  const { page, context } = await register("/", { viewport: { width: 320, height: 640 }, isMobile: true, hasTouch: true });
  await ready(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px too wide`);
  await page.getByRole("searchbox", { name: "Search" }).tap();
  await page.keyboard.type("grace");
  await waitForStatus(page, /^1 mentor matches/);
  await context.close();
});

test("a search looks at every page of the register, and the page's own cards come back when it is cleared", async () => {
  const { page, context } = await register();
  await ready(page);
  const own = await visibleNames(page);
  // The mentors not taking requests are last in the register's order: on page 2.
  await page.getByLabel("Only mentors taking requests now").uncheck();
  await page.getByRole("searchbox", { name: "Search" }).fill("achterberg");
  await page.waitForFunction(() => document.getElementById("results").dataset.applied === "?q=achterberg&all=1");
  assert.deepEqual(await visibleNames(page), ["Zoë Achterberg"]);
  assert.equal(await page.locator("#register-pager").isVisible(), false, "no page links over search results");
  assert.equal(await page.locator('li[data-slug="zoe-achterberg"] .status').textContent().then((t) => t.trim()), "Not taking requests");
  await page.getByRole("button", { name: "Clear search and filters" }).click();
  await page.waitForFunction(() => document.getElementById("results").dataset.applied === "/");
  assert.deepEqual(await visibleNames(page), own);
  assert.equal(await page.locator("#register-pager").isVisible(), true);

  // Page 2 with the script: its own mentors, none taking requests, and a way to see them.
  await page.goto(base + "/page/2/");
  await ready(page);
  assert.deepEqual(await visibleNames(page), []);
  assert.match(await page.locator("#finder-status").textContent(), /^None of the mentors on this page is taking requests now/);
  await page.getByLabel("Only mentors taking requests now").uncheck();
  await waitForStatus(page, /^26 mentors match\.$/);
  await context.close();
});

// Last, because it edits a bio: `serve` rebuilds on save and the open tab reloads by itself.
test("saving a bio reloads the open page; a mistake shows over the last good page until fixed", async () => {
  const file = join(root, "content", "mentors", "rhiannon-price.md");
  const good = readFileSync(file, "utf8");
  const { page, context } = await register("/mentors/rhiannon-price/");
  const heading = () => page.locator("h1").first().textContent();
  assert.match(await heading(), /Rhiannon Price/);

  let reloaded = page.waitForEvent("load");
  writeFileSync(file, good.replace(/^name: .*$/m, "name: Rhiannon Price-Edited"));
  await reloaded;
  assert.match(await heading(), /Rhiannon Price-Edited/);

  reloaded = page.waitForEvent("load");
  writeFileSync(file, good.replace(/^name: .*$/m, "name: Rhiannon Price-Edited\nname: twice"));
  await reloaded;
  const panel = page.locator("#mentorsite-problems");
  await panel.waitFor();
  assert.equal(await panel.getAttribute("role"), "alert");
  assert.match(await panel.textContent(), /content\/mentors\/rhiannon-price\.md:\d+:\d+: error: /);
  assert.match(await heading(), /Rhiannon Price-Edited/, "the last good page stays");
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }));
  const problems = result.violations.map((v) => `${v.id}: ${v.help}`);
  assert.deepEqual(problems, [], problems.join("\n"));

  reloaded = page.waitForEvent("load");
  writeFileSync(file, good);
  await reloaded;
  assert.equal(await page.locator("#mentorsite-problems").count(), 0, "fixed: the panel is gone");
  assert.match(await heading(), /^\s*Rhiannon Price\s*$/);
  await context.close();
});

test("filters offer only values some mentor has, fold long lists and end with a Show N mentors button", async () => {
  const { page, context } = await register();
  await ready(page);
  await page.locator("#finder-filters > summary").click();
  const offeredEmpty = await page.$$eval("#finder-filters label.choice", (ls) =>
    ls.filter((l) => getComputedStyle(l).display !== "none" && l.querySelector(".count") && l.querySelector(".count").textContent === "0").map((l) => l.textContent.trim()));
  assert.deepEqual(offeredEmpty, [], "no value that would leave no mentor is offered");
  assert.ok(await page.locator("#finder-filters details.more-options").count() > 0, "long lists fold");
  assert.equal(await page.locator("#finder-filters details.more-options[open]").count(), 0);
  await page.locator('fieldset[data-facet="meeting"] label', { hasText: "Phone" }).locator("input").check();
  await waitForStatus(page, /match/);
  const status = await page.locator("#finder-status").textContent();
  const n = Number(status.match(/^(\d+) mentors? match/)[1]);
  const show = page.locator("#finder-show");
  assert.equal(await show.textContent(), `Show ${n} mentors`);
  await show.click();
  assert.equal(await page.locator("#finder-filters").evaluate((d) => d.open), false, "the filters close");
  assert.equal(await page.evaluate(() => document.activeElement.id), "finder-status", "and the results are announced");
  await context.close();
});

test("on a 375 px phone cards are compact and the first results are on the first screen", async () => {
  const { page, context } = await register("/", { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
  await ready(page);
  const r = await page.evaluate(() => {
    const cards = [...document.querySelectorAll("#results .card")].map((c) => c.getBoundingClientRect());
    return { heights: cards.map((c) => c.height), firstTop: cards[0].top + window.scrollY };
  });
  const sorted = [...r.heights].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  assert.ok(median <= 250, `a card's median height is ${median} px`);
  assert.ok(r.firstTop < 812, `the first card starts ${Math.round(r.firstTop)} px down`);
  // The card shows the scheme's chosen fields only.
  const labels = await page.$eval("#results .card", (c) => [...c.querySelectorAll(".card-facts dt")].map((d) => d.textContent));
  assert.deepEqual(labels, ["Grade", "Specialty", "Region"]);
  await context.close();
});
