"use strict";
// The case list of report.html. Every string from the run is untrusted (a model's output, a
// dataset's vars, a reviewer's note): it only ever reaches the page through textContent.
(function () {
  var PAGE = 50;
  var ORDER = { broken: 0, error: 1, failing: 2, fixed: 3, passing: 4, removed: 5 };
  var groups = JSON.parse(document.getElementById("data").textContent);
  var many = groups.length > 1;
  var rows = [];
  groups.forEach(function (g) {
    g.cases.forEach(function (c, i) {
      rows.push({ suite: g.suite, compared: g.compared, c: c, order: rows.length, i: i });
    });
  });
  var state = { kind: "all", q: "", sort: "kind", page: 0, suite: "" };
  var shown = [];
  var list = document.getElementById("list");
  var search = document.getElementById("q");
  var sortBox = document.getElementById("sort");
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".filters button"));

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function kindLabel(row) {
    var k = row.c.k;
    if (k === "failing" && row.compared) return "failing on both";
    if (k === "removed") return "removed on head";
    return k;
  }

  function baseOut(c) {
    if (!c.b) return null;
    return c.b.same ? c.h.out : c.b.out;
  }

  function haystack(row) {
    if (row.hay === undefined) {
      var c = row.c;
      row.hay = [c.id, JSON.stringify(c.vars), c.h.out || "", baseOut(c) || ""]
        .join("\u0000")
        .toLowerCase();
    }
    return row.hay;
  }

  function matches(row) {
    var k = state.kind;
    if (state.suite && row.suite !== state.suite) return false;
    if (k === "reviewed" ? !row.c.rev : k !== "all" && row.c.k !== k) return false;
    return !state.q || haystack(row).indexOf(state.q) !== -1;
  }

  function tokens(side) {
    return (side.tok || [0, 0])[0] + (side.tok || [0, 0])[1];
  }

  var SORTS = {
    order: function (a, b) { return a.order - b.order; },
    id: function (a, b) { return a.c.id < b.c.id ? -1 : a.c.id > b.c.id ? 1 : a.order - b.order; },
    kind: function (a, b) { return ORDER[a.c.k] - ORDER[b.c.k] || a.order - b.order; },
    latency: function (a, b) { return b.c.h.s - a.c.h.s || a.order - b.order; },
    cost: function (a, b) { return b.c.h.usd - a.c.h.usd || a.order - b.order; },
    tokens: function (a, b) { return tokens(b.c.h) - tokens(a.c.h) || a.order - b.order; }
  };

  // Word-level diff: the longest common subsequence of words, after the shared start and end
  // are set aside; past a size where that would stall the page, the middle is all changed.
  function words(text) {
    return (text || "").match(/[\p{L}\p{N}_]+|\s+|[^\p{L}\p{N}_\s]/gu) || [];
  }

  function diff(a, b) {
    var pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    var suf = 0;
    while (suf < a.length - pre && suf < b.length - pre &&
           a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    var am = a.slice(pre, a.length - suf), bm = b.slice(pre, b.length - suf);
    var left = a.slice(0, pre).map(function (w) { return [w, 0]; });
    var right = left.slice();
    var n = am.length, m = bm.length;
    if (n * m > 4000000) {
      am.forEach(function (w) { left.push([w, 1]); });
      bm.forEach(function (w) { right.push([w, 1]); });
    } else {
      var w = m + 1, t = new Uint32Array((n + 1) * w);
      for (var i = n - 1; i >= 0; i--) {
        for (var j = m - 1; j >= 0; j--) {
          t[i * w + j] = am[i] === bm[j] ? t[(i + 1) * w + j + 1] + 1
            : Math.max(t[(i + 1) * w + j], t[i * w + j + 1]);
        }
      }
      i = 0; j = 0;
      while (i < n || j < m) {
        if (i < n && j < m && am[i] === bm[j]) { left.push([am[i], 0]); right.push([bm[j], 0]); i++; j++; }
        else if (j >= m || (i < n && t[(i + 1) * w + j] >= t[i * w + j + 1])) { left.push([am[i], 1]); i++; }
        else { right.push([bm[j], 1]); j++; }
      }
    }
    a.slice(a.length - suf).forEach(function (x) { left.push([x, 0]); right.push([x, 0]); });
    return [left, right];
  }

  function marked(parts, tag) {
    var pre = el("pre", "out");
    pre.tabIndex = 0;
    var run = "", changed = false;
    function flush() {
      if (!run) return;
      pre.appendChild(changed ? el(tag, null, run) : document.createTextNode(run));
      run = "";
    }
    parts.forEach(function (p) {
      var isChange = p[1] === 1 && /\S/.test(p[0]);
      if (isChange !== changed) { flush(); changed = isChange; }
      run += p[0];
    });
    flush();
    return pre;
  }

  function output(text, error) {
    if (text === null || text === undefined) {
      return el("p", "muted", error ? "no output (" + error + ")" : "no output");
    }
    var pre = el("pre", "out", text === "" ? "(empty output)" : text);
    pre.tabIndex = 0;
    return pre;
  }

  function kv(parent, pairs) {
    var dl = el("dl", "kv");
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === "") return;
      dl.appendChild(el("dt", null, p[0]));
      dl.appendChild(el("dd", null, typeof p[1] === "string" ? p[1] : JSON.stringify(p[1], null, 1)));
    });
    if (dl.childNodes.length) parent.appendChild(dl);
  }

  function evaluations(side) {
    var box = el("div", "evals");
    (side.ev || []).forEach(function (e) {
      var item = el("div", "eval " + (e.err ? "error" : e.abs ? "abstained" : e.ok ? "pass" : "fail"));
      var head = el("p", "eval-head");
      head.appendChild(el("span", "pill " + (e.err ? "error" : e.ok ? "pass" : "fail"),
        e.err ? "error" : e.abs ? "abstained" : e.ok ? "pass" : "fail"));
      head.appendChild(el("strong", null, " " + e.n));
      head.appendChild(el("span", "muted", " score " + e.sc));
      item.appendChild(head);
      kv(item, [["reason", e.why], ["error", e.err], ["evidence", e.evi], ["suggested fix", e.fix]]);
      box.appendChild(item);
    });
    if (side.err) box.appendChild(el("p", "pill error", side.err));
    return box;
  }

  function stats(side) {
    var parts = [(side.tok || [0, 0])[0] + " in / " + (side.tok || [0, 0])[1] + " out tokens",
      "$" + (side.usd || 0).toFixed(5), (side.s || 0).toFixed(2) + " s"];
    if (side.cached) parts.push("cached");
    return el("p", "muted", parts.join(" · "));
  }

  function calls(side) {
    var box = el("div", "calls");
    (side.calls || []).forEach(function (call) {
      var p = el("pre", "call");
      p.appendChild(el("strong", null, call.n));
      p.appendChild(document.createTextNode("(" + call.args + ")"));
      box.appendChild(p);
    });
    return box;
  }

  function column(title, side, pre) {
    var col = el("div", "side");
    var h = el("h4", null, title + " ");
    h.appendChild(el("span", "pill " + side.st, side.st));
    col.appendChild(h);
    col.appendChild(pre);
    if (side.calls) { col.appendChild(el("h5", null, "Tool calls")); col.appendChild(calls(side)); }
    col.appendChild(el("h5", null, "Evaluators"));
    col.appendChild(evaluations(side));
    col.appendChild(stats(side));
    return col;
  }

  function body(row) {
    var c = row.c, box = el("div", "body");
    box.appendChild(el("h5", null, "Vars"));
    kv(box, Object.keys(c.vars).map(function (k) { return [k, c.vars[k]]; }));
    kv(box, [["expected", c.exp], ["tags", c.tags ? c.tags.join(", ") : null]]);
    if (c.turns) {
      box.appendChild(el("h5", null, "Earlier turns"));
      var ol = el("ol", "turns");
      c.turns.forEach(function (t) {
        var li = el("li");
        li.appendChild(el("strong", null, "[" + t.role + "] "));
        li.appendChild(el("span", "turn", t.text));
        ol.appendChild(li);
      });
      box.appendChild(ol);
    }
    var grid = el("div", "sides" + (c.b ? "" : " single"));
    var headOut = c.h.out, before = baseOut(c);
    if (c.b && headOut != null && before != null && !c.b.same) {
      var d = diff(words(before), words(headOut));
      grid.appendChild(column("Base", c.b, marked(d[0], "del")));
      grid.appendChild(column("Head", c.h, marked(d[1], "ins")));
    } else {
      if (c.b) grid.appendChild(column("Base", c.b, output(before, c.b.err)));
      var title = c.k === "removed" ? "Base (the head has no such case)" : c.b ? "Head" : "Output";
      grid.appendChild(column(title, c.h, output(headOut, c.h.err)));
    }
    if (c.b && c.b.same) box.appendChild(el("p", "muted", "Same output on base and head."));
    box.appendChild(grid);
    if (c.rep) box.appendChild(el("p", "muted", "Repeats on head: " + c.rep.join(", ")));
    if (c.rev) {
      var r = el("div", "review");
      r.appendChild(el("h5", null, "Reviewer's verdict"));
      r.appendChild(el("p", null, (c.rev.v === "bad" ? "bad" : "good") + ", by " + c.rev.by +
        " at " + c.rev.at + " (" + c.rev.st + ")"));
      if (c.rev.note) r.appendChild(el("blockquote", null, c.rev.note));
      box.appendChild(r);
    }
    return box;
  }

  function preview(text) {
    var flat = (text || "").replace(/\s+/g, " ").trim();
    return flat.length > 120 ? flat.slice(0, 119) + "…" : flat;
  }

  function item(row) {
    var det = el("details", "case k-" + row.c.k);
    var sum = el("summary");
    sum.appendChild(el("span", "pill " + row.c.k, kindLabel(row)));
    if (row.c.crit) sum.appendChild(el("span", "pill critical", "critical"));
    if (row.c.rev) sum.appendChild(el("span", "pill reviewed", "reviewed " + row.c.rev.v));
    if (many) sum.appendChild(el("span", "suite", row.suite));
    sum.appendChild(el("span", "cid", row.c.id));
    sum.appendChild(el("span", "preview", preview(row.c.h.out != null ? row.c.h.out : row.c.h.err)));
    det.appendChild(sum);
    det.addEventListener("toggle", function () {
      if (det.open && det.childNodes.length === 1) det.appendChild(body(row));
    });
    return det;
  }

  function render() {
    list.textContent = "";
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * PAGE;
    var frag = document.createDocumentFragment();
    shown.slice(start, start + PAGE).forEach(function (row) { frag.appendChild(item(row)); });
    list.appendChild(frag);
    document.getElementById("count").textContent = shown.length
      ? "Showing " + (start + 1) + "–" + Math.min(start + PAGE, shown.length) + " of " + shown.length +
        " case" + (shown.length === 1 ? "" : "s")
      : "No case matches.";
    document.getElementById("page").textContent = "page " + (state.page + 1) + " of " + pages;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
  }

  function refresh() {
    shown = rows.filter(matches).sort(SORTS[state.sort]);
    render();
  }

  buttons.forEach(function (b) {
    var k = b.getAttribute("data-kind");
    var n = rows.filter(function (r) {
      return k === "all" || (k === "reviewed" ? !!r.c.rev : r.c.k === k);
    }).length;
    b.appendChild(el("span", "count", " " + n));
    b.addEventListener("click", function () {
      state.kind = k;
      state.page = 0;
      buttons.forEach(function (o) { o.setAttribute("aria-pressed", String(o === b)); });
      refresh();
    });
  });
  var timer = null;
  function applySearch() {
    state.q = search.value.trim().toLowerCase();
    state.page = 0;
    refresh();
  }
  // A long list waits for a pause in typing; a short one follows every key.
  search.addEventListener("input", function () {
    clearTimeout(timer);
    if (rows.length > 2000) timer = setTimeout(applySearch, 150);
    else applySearch();
  });
  var suiteBox = document.getElementById("suite");
  if (suiteBox) {
    suiteBox.addEventListener("change", function () { state.suite = suiteBox.value; state.page = 0; refresh(); });
  }
  sortBox.addEventListener("change", function () { state.sort = sortBox.value; state.page = 0; refresh(); });
  document.getElementById("prev").addEventListener("click", function () { state.page--; render(); });
  document.getElementById("next").addEventListener("click", function () { state.page++; render(); });

  // "/" searches; the arrow keys move between cases, Enter or Space opens one.
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.key === "/" && t.tagName !== "INPUT" && t.tagName !== "SELECT") {
      ev.preventDefault();
      search.focus();
      return;
    }
    if (ev.key === "Escape" && t === search) { search.value = ""; search.dispatchEvent(new Event("input")); return; }
    if ((ev.key === "ArrowDown" || ev.key === "ArrowUp") && t.tagName === "SUMMARY") {
      var all = Array.prototype.slice.call(list.querySelectorAll("summary"));
      var at = all.indexOf(t) + (ev.key === "ArrowDown" ? 1 : -1);
      if (at >= 0 && at < all.length) { ev.preventDefault(); all[at].focus(); }
    }
  });
  refresh();
  document.documentElement.setAttribute("data-ready", "1");
})();
