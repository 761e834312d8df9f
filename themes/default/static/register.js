/* mentorsite register: search and filters over every mentor, from any page of the register.
 *
 * Without this script the register is pages of cards (`/page/2/`, …) and a page per filter
 * value. With it, a search or filter looks at every mentor: free text (prefix matching,
 * one-letter typos forgiven), filters (AND across fields, OR within one, each value showing
 * how many mentors it would leave), "only mentors taking requests" on by default, and the
 * whole state in the URL so a copied link opens the same results. With nothing typed or
 * chosen, the page's own cards stay as they are.
 *
 * The index is written by `mentorsite build` (src/render/search.rs): a manifest in the page
 * (statuses, shard and card chunk names), facet codes fetched once a filter is used, text
 * shards fetched per query term, and the theme's card HTML fetched in chunks of a page for
 * the results not already on it. The tokenizer below must match the one in Rust. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("finder"), list = $("results"), status = $("finder-status"), manifestEl = $("search-manifest");
  if (!form || !list || !manifestEl || !window.fetch || !window.URLSearchParams) return;
  var M = JSON.parse(manifestEl.textContent);
  var STOP = new Set(("a about an and are as at be but by for from had has have i in is it its me my of on or so " +
    "that the their them then there they this to was we were what when which who will with you your").split(" "));

  function tokenize(text) {
    return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().split(/[^\p{L}\p{N}]+/u)
      .filter(function (t) { return Array.from(t).length > 1 && !STOP.has(t); });
  }
  window.mentorsiteTokenize = tokenize;

  var q = $("finder-q"), accepting = $("finder-accepting"), clear = $("finder-clear");
  var pager = $("register-pager"), n = M.n, PAGE = M.page;
  var today = new Date();
  var todayIso = [today.getFullYear(), String(today.getMonth() + 1).padStart(2, "0"),
    String(today.getDate()).padStart(2, "0")].join("-");
  // Who can be asked today: mentors back from being away since the build count as taking requests.
  var open = new Uint8Array(n);
  for (var i = 0; i < n; i++) {
    var st = M.st.charAt(i);
    open[i] = st === "a" || (st === "w" && M.away[i] && M.away[i] <= todayIso) ? 1 : 0;
  }

  // Cards by doc id: this page's own, then those fetched with a chunk.
  var acceptingBadge = $("status-accepting");
  function returned(li) {
    var card = li.querySelector("[data-away-until]");
    if (card && card.dataset.awayUntil <= todayIso && acceptingBadge) {
      var badge = card.querySelector(".status-away");
      if (badge) badge.replaceWith(acceptingBadge.content.cloneNode(true));
      card.dataset.status = "accepting";
    }
    return li;
  }
  var start = Number(list.dataset.start) || 0, own = [];
  var items = new Map();
  Array.prototype.forEach.call(list.children, function (li, k) {
    items.set(start + k, returned(li));
    own.push(li);
  });

  /* ---- Index loading ---------------------------------------------------------------- */
  var facets = null, facetsPromise = null, shardCache = new Map(), chunkCache = new Map();
  function getJson(name) {
    return fetch(M.dir + name).then(function (r) {
      if (!r.ok) throw new Error(r.status + " " + name);
      return r.json();
    });
  }
  function loadFacets() {
    if (!facetsPromise) facetsPromise = getJson(M.f).then(function (f) { facets = f; });
    return facetsPromise;
  }
  /* The cards of chunk k (register page k + 1), made into list items on arrival. */
  function loadChunk(k) {
    if (!chunkCache.has(k)) {
      chunkCache.set(k, getJson(M.cards[k]).then(function (html) {
        var t = document.createElement("template");
        html.forEach(function (h, j) {
          var id = k * PAGE + j;
          if (items.has(id)) return;
          t.innerHTML = h;
          var li = t.content.firstElementChild;
          if (li) items.set(id, returned(li));
        });
      }));
    }
    return chunkCache.get(k);
  }
  function shardIndex(term) {
    var lo = 0, hi = M.shards.length - 1, found = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (M.shards[mid][0] <= term) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function loadShard(i) {
    if (!shardCache.has(i)) shardCache.set(i, getJson(M.shards[i][1]));
    return shardCache.get(i);
  }
  /* Shards that may hold `term` (and, for a prefix, the terms that follow it). */
  function shardsFor(term, prefix) {
    var first = shardIndex(term), out = [first];
    for (var i = first + 1; prefix && i < M.shards.length && i < first + 3; i++) {
      if (M.shards[i][0].lastIndexOf(term, 0) === 0) out.push(i); else break;
    }
    return Promise.all(out.map(loadShard));
  }

  /* ---- Text search ------------------------------------------------------------------ */
  function within1(a, b) {
    if (Math.abs(a.length - b.length) > 1) return false;
    var i = 0, j = 0, edits = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { i++; j++; continue; }
      if (++edits > 1) return false;
      if (a.length > b.length) i++; else if (b.length > a.length) j++; else { i++; j++; }
    }
    return edits + (a.length - i) + (b.length - j) <= 1;
  }
  /* doc id → score for one query term; prefix for the word still being typed. */
  function termHits(term, prefix) {
    return shardsFor(term, prefix).then(function (shards) {
      var hits = new Map(), matched = 0;
      function add(p, factor) {
        var id = 0;
        for (var k = 0; k < p.length; k++) {
          id += p[k] >> 2;
          var w = (p[k] & 3) * factor;
          if ((hits.get(id) || 0) < w) hits.set(id, w);
        }
      }
      shards.forEach(function (s) {
        for (var i = 0; i < s.t.length; i++) {
          var t = s.t[i];
          if (t === term) { add(s.p[i], 1); matched++; }
          else if (prefix && matched < 60 && t.lastIndexOf(term, 0) === 0) { add(s.p[i], 0.8); matched++; }
        }
      });
      if (!hits.size && term.length >= 4) {
        shards.forEach(function (s) {
          for (var i = 0; i < s.t.length; i++) {
            var t = s.t[i];
            var near = within1(t, term) || (prefix && t.length > term.length && within1(t.slice(0, term.length), term));
            if (near) add(s.p[i], 0.5);
          }
        });
      }
      return hits;
    });
  }
  /* All terms must match; if none does, any may (and the status says so). */
  function textSearch(query) {
    var terms = tokenize(query);
    if (!terms.length) return Promise.resolve(null);
    var open = !/\s$/.test(query);
    return Promise.all(terms.map(function (t, i) { return termHits(t, open && i === terms.length - 1); }))
      .then(function (per) {
        var all = new Map(per[0]);
        for (var k = 1; k < per.length; k++) {
          all.forEach(function (score, id) {
            var s = per[k].get(id);
            if (s === undefined) all.delete(id); else all.set(id, score + s);
          });
        }
        if (all.size || per.length === 1) return { scores: all, loose: false };
        var any = new Map();
        per.forEach(function (m) { m.forEach(function (s, id) { any.set(id, (any.get(id) || 0) + s); }); });
        return { scores: any, loose: true };
      });
  }

  /* ---- State and URL ---------------------------------------------------------------- */
  function facetBoxes(key) { return form.querySelectorAll('fieldset[data-facet="' + key + '"] input'); }
  function readForm() {
    var s = { q: q.value, all: !accepting.checked, f: {} };
    M.facets.forEach(function (f) {
      var on = [];
      facetBoxes(f.key).forEach(function (b) { if (b.checked) on.push(b.value); });
      if (on.length) s.f[f.key] = on;
    });
    return s;
  }
  function writeForm(s) {
    q.value = s.q;
    accepting.checked = !s.all;
    M.facets.forEach(function (f) {
      var on = s.f[f.key] || [];
      facetBoxes(f.key).forEach(function (b) { b.checked = on.indexOf(b.value) >= 0; });
    });
  }
  function toQuery(s) {
    var p = new URLSearchParams();
    if (s.q.trim()) p.set("q", s.q.trim());
    M.facets.forEach(function (f) { if (s.f[f.key]) p.set(f.key, s.f[f.key].join(",")); });
    if (s.all) p.set("all", "1");
    var text = p.toString();
    return text ? "?" + text : location.pathname;
  }
  function fromUrl() {
    var p = new URLSearchParams(location.search), s = { q: p.get("q") || "", all: p.get("all") === "1", f: {} };
    M.facets.forEach(function (f) {
      var known = f.values.map(function (v) { return v[0]; });
      var on = [];
      p.getAll(f.key).forEach(function (v) {
        v.split(",").forEach(function (x) { if (known.indexOf(x) >= 0 && on.indexOf(x) < 0) on.push(x); });
      });
      if (on.length) s.f[f.key] = on;
    });
    return s;
  }

  /* ---- Applying a state ------------------------------------------------------------- */
  /* Browsing: nothing typed or chosen and the default "taking requests" box. The page keeps
   * its own cards (less those not taking requests) and its links to the other pages. Any other
   * state is a search over every mentor. */
  function browsing(s) { return !s.q.trim() && !s.all && !Object.keys(s.f).length; }
  var run = 0, filtersEl = $("finder-filters");
  function apply(s, history) {
    var mine = ++run;
    limit = PAGE;
    var chosen = Object.keys(s.f).length > 0;
    return Promise.all([chosen ? loadFacets() : null, textSearch(s.q)]).then(function (r) {
      if (mine !== run) return; // a newer keystroke won
      var text = r[1];
      var selected = M.facets.map(function (f) {
        var on = s.f[f.key] || [];
        return on.map(function (slug) { return f.values.findIndex(function (v) { return v[0] === slug; }); });
      });
      function passes(id, skip) {
        if (!s.all && !open[id]) return false;
        if (text && !text.scores.has(id)) return false;
        for (var k = 0; k < M.facets.length; k++) {
          if (k === skip || !selected[k].length) continue;
          var codes = facets[M.facets[k].key][id];
          if (!codes.some(function (c) { return selected[k].indexOf(c) >= 0; })) return false;
        }
        return true;
      }
      var results = [], id;
      if (browsing(s)) {
        for (id = start; id < start + own.length; id++) if (passes(id, -1)) results.push(id);
      } else {
        for (id = 0; id < n; id++) if (passes(id, -1)) results.push(id);
        if (text) results.sort(function (a, b) { return text.scores.get(b) - text.scores.get(a) || a - b; });
      }
      render(results, text, s);
      if (history === "push") window.history.pushState(null, "", toQuery(s));
      else if (history === "replace") window.history.replaceState(null, "", toQuery(s));
      counted = function () { recount(passes); };
      // The counts need every mentor's facet codes: only once the filters are open or used.
      if (facets) counted();
      else if (filtersEl.open) loadFacets().then(function () { if (mine === run) counted(); });
    });
  }
  var counted = null;
  /* Each value's count: mentors it would leave, given everything else chosen. */
  function recount(passes) {
    M.facets.forEach(function (f, k) {
      var counts = new Array(f.values.length).fill(0), col = facets[f.key];
      for (var id = 0; id < n; id++) {
        if (passes(id, k)) col[id].forEach(function (c) { counts[c]++; });
      }
      facetBoxes(f.key).forEach(function (b, i) {
        var c = b.parentNode.querySelector(".count");
        if (c) c.textContent = counts[i];
        b.disabled = !counts[i] && !b.checked;
        // A value that would leave no mentor is not offered (unless it is chosen).
        b.parentNode.hidden = !counts[i] && !b.checked;
      });
    });
  }
  filtersEl.addEventListener("toggle", function () {
    if (filtersEl.open) loadFacets().then(function () { if (counted) counted(); });
  });

  /* Show the first `limit` results, in order. Cards not shown are taken out of the page (the
   * script keeps them), so the browser styles and lays out a few dozen cards, not thousands.
   * A result not on this page comes with its chunk of cards: those already here are shown at
   * once, the rest as their chunks arrive. */
  var limit = PAGE, visible = new Set(own), last = null;
  var more = $("finder-more");
  function render(results, text, s) {
    var me = last = { results: results, text: text, s: s };
    var want = [], waiting = [];
    for (var i = 0; i < results.length && i < limit; i++) {
      var li = items.get(results[i]);
      if (!li) {
        var k = Math.floor(results[i] / PAGE);
        if (waiting.indexOf(k) < 0) waiting.push(k);
      } else if (!waiting.length) want.push(li);
    }
    // With nothing on screen yet, the first result's chunk comes first, alone: on a slow link
    // the first result shows a round trip sooner, and the others follow together.
    (want.length ? waiting : waiting.slice(0, 1)).forEach(function (k) {
      loadChunk(k).then(function () { if (last === me) render(results, text, s); }, function () {
        if (last === me) status.textContent = "Some mentors could not be loaded. Check your connection and try again.";
      });
    });
    var wanted = new Set(want);
    visible.forEach(function (li) { if (!wanted.has(li)) li.remove(); });
    var cursor = list.firstElementChild;
    want.forEach(function (li) {
      if (li === cursor) cursor = cursor.nextElementSibling;
      else list.insertBefore(li, cursor);
    });
    visible = wanted;
    // Which state is on screen: its first results (`first`), all of them (`applied`). Tests and
    // benches/search.mjs wait for these.
    if ((want.length || !waiting.length) && list.dataset.first !== toQuery(s)) {
      list.dataset.first = toQuery(s);
      list.dataset.firstAt = Math.round(performance.now());
    }
    if (!waiting.length) list.dataset.applied = toQuery(s);
    else delete list.dataset.applied;
    var count = results.length, paging = browsing(s);
    if (pager) pager.hidden = !paging;
    var words;
    if (paging) {
      var away = own.length - count;
      words = !away ? "" : !count ? "None of the mentors on this page is taking requests now: untick " +
        "\u201cOnly mentors taking requests now\u201d to see them" : (count === 1 ? "1 mentor" : count + " mentors") +
        " on this page taking requests now; " + away + " more not taking requests are hidden";
    } else {
      words = count === 0 ? "No mentors match" : count === 1 ? "1 mentor matches" : count + " mentors match";
      if (text && text.loose && count) words += " some of your words";
      if (!s.all) words += count ? ", all taking requests now" : " among those taking requests now";
    }
    status.textContent = words ? words + "." : "";
    if (more) {
      more.hidden = paging || count <= limit;
      more.textContent = "Show " + Math.min(PAGE, count - limit) + " more (" + Math.min(limit, count) + " of " + count + " shown)";
    }
    var show = $("finder-show");
    if (show) show.textContent = paging ? "Show the mentors" : count === 0 ? "No mentors match: change the filters" : count === 1 ? "Show 1 mentor" : "Show " + count + " mentors";
    var active = Object.keys(s.f).reduce(function (a, k) { return a + s.f[k].length; }, 0);
    $("finder-active").textContent = active ? "(" + active + " on)" : "";
    // Offered only when there is something to clear (a line less before the results).
    clear.parentNode.hidden = !(s.q || s.all || active);
  }
  var showButton = $("finder-show");
  if (showButton) {
    // Close the filters and go to the results they chose.
    showButton.addEventListener("click", function () {
      $("finder-filters").open = false;
      status.setAttribute("tabindex", "-1");
      status.focus();
      list.scrollIntoView({ block: "start" });
    });
  }
  if (more) {
    more.addEventListener("click", function () {
      limit += PAGE;
      if (last) render(last.results, last.text, last.s);
    });
  }

  /* ---- Wiring ----------------------------------------------------------------------- */
  var timer = 0;
  q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { apply(readForm(), "replace"); }, 150);
  });
  form.addEventListener("change", function (e) {
    if (e.target !== q) apply(readForm(), "push");
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(readForm(), "push"); });
  clear.addEventListener("click", function () {
    writeForm({ q: "", all: false, f: {} });
    apply(readForm(), "push");
    q.focus();
  });
  window.addEventListener("popstate", function () { var s = fromUrl(); writeForm(s); apply(s, null); });

  form.hidden = false;
  var initial = fromUrl();
  writeForm(initial);
  if (Object.keys(initial.f).length) $("finder-filters").open = true;
  apply(initial, null);
})();
