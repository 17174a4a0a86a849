/* vpcflow dashboard: draws each page from its JSON twin. The whole view (page, time range,
   filters, unit) lives in the URL; every click that changes it pushes a history entry. */
"use strict";

const PAGES = ["rejected", "findings", "flows", "console"];
const ENTITY = ["ip", "interface", "instance", "subnet"];
const COLORS = { ACCEPT: "#2da44e", REJECT: "#cf222e", NODATA: "#8c959f", SKIPDATA: "#bf8700" };
const vf = (window.vpcflow = { charts: {}, ready: false, errors: [] });
let state = null;
let worldLoaded = null;
let renderId = 0;

/* ---- state <-> URL --------------------------------------------------------------------- */

function parseLocation() {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const q = new URLSearchParams(location.search);
  const s = {
    page: "overview", kind: null, value: null,
    range: q.get("range"), from: q.get("from"), to: q.get("to"),
    unit: q.get("unit") || "bytes", filters: q.getAll("f"),
    page_no: parseInt(q.get("page") || "1", 10) || 1,
    language: q.get("language") || "sql", dialect: q.get("dialect") || "athena", q: q.get("q"),
  };
  if (parts.length === 1 && PAGES.includes(parts[0])) s.page = parts[0];
  else if (parts.length >= 2 && ENTITY.includes(parts[0])) {
    s.page = "entity"; s.kind = parts[0]; s.value = parts.slice(1).join("/");
  }
  if (!s.from && !s.to && !s.range) s.range = "24h";
  return s;
}

function viewQuery(s, extra) {
  const q = new URLSearchParams();
  if (s.from || s.to) { if (s.from) q.set("from", s.from); if (s.to) q.set("to", s.to); }
  else q.set("range", s.range || "24h");
  q.set("unit", s.unit);
  for (const f of s.filters) q.append("f", f);
  for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined) q.set(k, v);
  return q.toString();
}

function pathOf(s) {
  if (s.page === "overview") return "/";
  if (s.page === "entity") return `/${s.kind}/${encodeURIComponent(s.value)}`;
  return "/" + s.page;
}

function urlOf(s) {
  const extra = {};
  if (s.page === "flows" && s.page_no > 1) extra.page = s.page_no;
  if (s.page === "console" && s.q) Object.assign(extra, { language: s.language, dialect: s.dialect, q: s.q });
  return pathOf(s) + "?" + viewQuery(s, extra);
}

function navigate(changes, push = true) {
  const next = Object.assign({}, state, changes);
  if (!("page_no" in changes)) next.page_no = 1;
  const url = urlOf(next);
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  state = next;
  render();
}

function addFilters(fs) {
  if (!fs || !fs.length) return;
  const filters = state.filters.slice();
  for (const f of fs) if (!filters.includes(f)) filters.push(f);
  navigate({ filters });
}

/* ---- helpers --------------------------------------------------------------------------- */

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function human(n, unit) {
  if (n === null || n === undefined) return "-";
  const u = unit === "bytes" ? ["B", "KB", "MB", "GB", "TB", "PB"] : ["", "K", "M", "G", "T", "P"];
  let i = 0; let x = Number(n);
  while (Math.abs(x) >= 1000 && i < u.length - 1) { x /= 1000; i++; }
  return (i === 0 ? x.toFixed(0) : x.toFixed(1)) + (unit === "bytes" ? " " : "") + u[i];
}
const pct = (x) => (100 * x).toFixed(1) + "%";
const iso = (t) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

async function api(path, extra, opts) {
  const sep = path.includes("?") ? "&" : "?";
  const r = await fetch(path + sep + viewQuery(state, extra), opts);
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

function showError(msg) {
  const e = document.getElementById("error");
  if (!msg) { e.hidden = true; e.textContent = ""; return; }
  e.hidden = false; e.textContent = msg;
}

/* A value that filters when clicked; addresses and interfaces also link to their page. */
function fv(field, value, text) {
  const shown = text !== undefined ? text : (value === null || value === undefined ? "-" : value);
  const f = `${field}=${value === null || value === undefined ? "-" : value}`;
  const span = el("span", { class: "fv", "data-f": f, title: `filter ${f}`, onclick: () => addFilters([f]) }, shown);
  const kind = { srcaddr: "ip", dstaddr: "ip", addr: "ip", interface_id: "interface",
                 instance_id: "instance", subnet_id: "subnet" }[field];
  if (kind && value) {
    const s = Object.assign({}, state, { page: "entity", kind, value });
    const a = el("a", { class: "ent", href: urlOf(s), title: `the ${kind} page of ${value}`, "data-entity": value,
                        onclick: (ev) => { ev.preventDefault(); navigate({ page: "entity", kind, value }); } }, "↗");
    return el("span", {}, span, a);
  }
  return span;
}

function table(columns, rows) {
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : "" }, c.title)));
  const body = rows.map((r) => el("tr", {}, columns.map((c) => {
    const v = c.render ? c.render(r) : r[c.key];
    return el("td", { class: c.num ? "num" : "", "data-col": c.key }, v === null || v === undefined ? "-" : v);
  })));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

function card(title, cls, ...content) { return el("div", { class: "card " + (cls || "") }, el("h2", {}, title), ...content); }

function chartBox(name, tall) {
  const box = el("div", { class: "chart" + (tall ? " tall" : ""), id: "chart-" + name, "data-chart": name });
  return box;
}

function drawChart(name, option, data, onClick) {
  const box = document.getElementById("chart-" + name);
  if (!box) return null;
  const chart = echarts.init(box, null, { renderer: "canvas" });
  chart.setOption(Object.assign({ animation: false, tooltip: { trigger: "item" } }, option));
  if (onClick) chart.on("click", onClick);
  vf.charts[name] = { chart, data };
  return chart;
}

/* ---- the header ------------------------------------------------------------------------ */

function syncControls(view) {
  document.querySelectorAll("[data-nav]").forEach((a) => {
    a.classList.toggle("active", a.dataset.nav === state.page && !a.classList.contains("brand"));
    const s = Object.assign({}, state, { page: a.dataset.nav });
    a.href = urlOf(s);
  });
  const custom = !!(state.from || state.to);
  document.getElementById("range").value = custom ? "custom" : state.range;
  document.getElementById("custom").hidden = !custom;
  if (view) {
    document.getElementById("from").value = (view.from || "").replace("Z", "");
    document.getElementById("to").value = (view.to || "").replace("Z", "");
    document.getElementById("span").textContent = `${view.from} – ${view.to} UTC`;
  }
  document.querySelectorAll("[data-unit]").forEach((b) => b.classList.toggle("on", b.dataset.unit === state.unit));
  const chips = document.getElementById("chips");
  chips.replaceChildren(...state.filters.map((f) => el("span", { class: "chip" + (f.includes("!=") ? " neg" : ""), "data-chip": f },
    f.replace("!=", " ≠ ").replace(/=/, " = "),
    el("button", { type: "button", title: "invert", onclick: () => invertFilter(f) }, "±"),
    el("button", { type: "button", title: "remove", "aria-label": `remove ${f}`,
                   onclick: () => navigate({ filters: state.filters.filter((x) => x !== f) }) }, "×"))));
  const twin = document.getElementById("twin");
  twin.href = twinUrl();
}

function invertFilter(f) {
  const g = f.includes("!=") ? f.replace("!=", "=") : f.replace("=", "!=");
  navigate({ filters: state.filters.map((x) => (x === f ? g : x)) });
}

function twinUrl() {
  const q = viewQuery(state);
  if (state.page === "overview") return "/overview.json?" + q;
  if (state.page === "entity") return `/${state.kind}/${encodeURIComponent(state.value)}.json?` + q;
  if (state.page === "console") return "/query.json?" + new URLSearchParams({ language: state.language, dialect: state.dialect, q: state.q || "" });
  if (state.page === "flows") return "/flows.json?" + viewQuery(state, { page: state.page_no });
  return `/${state.page}.json?` + q;
}

function setupHeader() {
  document.querySelectorAll("[data-nav]").forEach((a) => a.addEventListener("click", (ev) => {
    ev.preventDefault(); navigate({ page: a.dataset.nav, kind: null, value: null });
  }));
  document.getElementById("range").addEventListener("change", (ev) => {
    const v = ev.target.value;
    if (v === "custom") { document.getElementById("custom").hidden = false; return; }
    navigate({ range: v, from: null, to: null });
  });
  document.getElementById("apply-range").addEventListener("click", () => {
    const f = document.getElementById("from").value; const t = document.getElementById("to").value;
    navigate({ from: f ? f + "Z" : null, to: t ? t + "Z" : null, range: null });
  });
  document.querySelectorAll("[data-unit]").forEach((b) => b.addEventListener("click", () => navigate({ unit: b.dataset.unit })));
  window.addEventListener("popstate", () => { state = parseLocation(); render(); });
  window.addEventListener("resize", () => Object.values(vf.charts).forEach((c) => c.chart.resize()));
}

/* ---- charts ---------------------------------------------------------------------------- */

function timeChart(name, p) {
  const series = p.series.map((s) => ({
    name: s.name, type: "bar", stack: "a", data: s.data.map(([t, v]) => [t * 1000, v]),
    itemStyle: { color: COLORS[s.name] }, barMaxWidth: 14,
  }));
  series.push({ name: "previous period", type: "line", data: p.previous.map(([t, v]) => [t * 1000, v]),
                lineStyle: { type: "dashed", color: "#57606a" }, itemStyle: { color: "#57606a" }, symbol: "none" });
  const chart = drawChart(name, {
    tooltip: { trigger: "axis", valueFormatter: (v) => human(v, p.unit) },
    legend: { top: 0 }, grid: { left: 60, right: 16, top: 30, bottom: 30 },
    xAxis: { type: "time" }, yAxis: { type: "value", axisLabel: { formatter: (v) => human(v, p.unit) } },
    toolbox: { show: false }, brush: { xAxisIndex: 0, brushType: "lineX", brushMode: "single" },
    series,
  }, p, (e) => { if (COLORS[e.seriesName] && e.seriesName !== "NODATA" && e.seriesName !== "SKIPDATA") addFilters([`action=${e.seriesName}`]); });
  if (!chart) return;
  chart.dispatchAction({ type: "takeGlobalCursor", key: "brush", brushOption: { brushType: "lineX", brushMode: "single" } });
  chart.on("brushEnd", (e) => {
    const a = e.areas && e.areas[0];
    if (!a || !a.coordRange) return;
    const [x0, x1] = a.coordRange;
    if (x1 - x0 < 1000) return;
    navigate({ range: null, from: iso(Math.floor(x0 / 1000)), to: iso(Math.ceil(x1 / 1000)) });
  });
}

function barChart(name, p) {
  const items = p.items.slice().reverse();
  const labels = items.map((i) => i.label);
  const data = items.map((i) => ({ value: i.value, filters: i.filters, name: i.label }));
  if (p.other > 0) { labels.unshift("Other"); data.unshift({ value: p.other, filters: [], name: "Other", itemStyle: { color: "#c7ccd1" } }); }
  drawChart(name, {
    tooltip: { trigger: "item", valueFormatter: (v) => human(v, p.unit) },
    grid: { left: 150, right: 20, top: 6, bottom: 24 },
    xAxis: { type: "value", splitNumber: 3, axisLabel: { hideOverlap: true, formatter: (v) => human(v, p.unit) } },
    yAxis: { type: "category", data: labels, axisLabel: { width: 140, overflow: "truncate" } },
    series: [{ type: "bar", data, itemStyle: { color: "#1f6feb" } }],
  }, p, (e) => addFilters(e.data && e.data.filters));
}

function pieChart(name, p) {
  const data = p.items.map((i) => ({ name: i.label, value: i.value, filters: i.filters }));
  if (p.other > 0) data.push({ name: "Other", value: p.other, filters: [] });
  drawChart(name, {
    tooltip: { trigger: "item", valueFormatter: (v) => human(v, p.unit) },
    series: [{ type: "pie", radius: ["35%", "70%"], data }],
  }, p, (e) => addFilters(e.data && e.data.filters));
}

async function mapChart(name, p) {
  if (!worldLoaded) worldLoaded = fetch("/static/world.json").then((r) => r.json()).then((g) => echarts.registerMap("world", g));
  await worldLoaded;
  const data = p.items.filter((i) => i.is_country).map((i) => ({ name: i.country, value: i.value, sources: i.sources, filters: i.filters }));
  const max = Math.max(1, ...data.map((d) => d.value));
  drawChart(name, {
    tooltip: { trigger: "item", formatter: (e) => e.data ? `${e.name}: ${human(e.value, p.unit)} from ${e.data.sources} sources` : e.name },
    visualMap: { min: 0, max, left: 0, bottom: 0, calculable: false, inRange: { color: ["#dbe9ff", "#0b3d91"] }, text: ["more", "less"] },
    series: [{ type: "map", map: "world", roam: true, nameProperty: "name", data, emphasis: { label: { show: false } } }],
  }, p, (e) => addFilters(e.data && e.data.filters));
}

function sankeyChart(name, p) {
  drawChart(name, {
    tooltip: { trigger: "item", valueFormatter: (v) => human(v, p.unit) },
    series: [{ type: "sankey", data: p.nodes.map((n) => ({ name: n.name, filters: n.filters })),
               links: p.links, nodeAlign: "justify", emphasis: { focus: "adjacency" },
               lineStyle: { color: "gradient", opacity: 0.4 }, label: { fontSize: 11 } }],
  }, p, (e) => {
    if (e.dataType === "node") addFilters(e.data.filters);
    else if (e.dataType === "edge") {
      const by = Object.fromEntries(p.nodes.map((n) => [n.name, n.filters]));
      addFilters([...(by[e.data.source] || []), ...(by[e.data.target] || [])]);
    }
  });
}

function kpiCards(k) {
  const cards = [
    ["records", human(k.records, "records")], ["bytes", human(k.bytes, "bytes")], ["packets", human(k.packets, "packets")],
    ["accepted", pct(k.accept_share)], ["rejected", pct(k.reject_share)], ["distinct sources", human(k.sources, "records")],
    ["interfaces", k.interfaces], ["NODATA", pct(k.nodata_share)], ["SKIPDATA", pct(k.skipdata_share)],
  ];
  return el("div", { class: "kpis", id: "kpis" }, cards.map(([l, v]) => el("div", { class: "kpi", "data-kpi": l }, el("div", { class: "v" }, v), el("div", { class: "l" }, l))));
}

const DRAW = { timeseries: timeChart, talkers: barChart, sources: barChart, destinations: barChart, ports: barChart,
               protocols: pieChart, interfaces: barChart, countries: mapChart, sankey: sankeyChart };

/* ---- pages ----------------------------------------------------------------------------- */

/* The overview draws each panel as its data arrives, above the fold first (the server answers
   one query at a time): the cards and the time chart do not wait for the Sankey. */
async function overview(main) {
  const id = renderId;
  if (!worldLoaded) worldLoaded = fetch("/static/world.json").then((r) => r.json()).then((g) => echarts.registerMap("world", g));
  const names = ["kpis", "timeseries", "talkers", "ports", "protocols", "rejected_sources", "countries", "sankey", "sources", "destinations"];
  const kpis = el("div", { class: "kpis", id: "kpis-loading" });
  const rejectedBox = el("div", { class: "scroll" });
  main.replaceChildren(
    kpis,
    el("div", { class: "grid" },
      card("Traffic over time (drag to zoom; dashed: the previous period)", "wide", chartBox("timeseries")),
      card("Top talkers", "", chartBox("talkers")),
      card("Top destination ports", "", chartBox("ports")),
      card("Protocols", "", chartBox("protocols")),
      card("Top rejected sources", "span2", rejectedBox),
      card("Where sources are (GeoLite2 country)", "wide", chartBox("countries", true)),
      card("Source → port → destination", "wide", chartBox("sankey", true)),
      card("Top sources", "", chartBox("sources")),
      card("Top destinations", "", chartBox("destinations")),
    ));
  const p = {};
  const draw = async (n, d) => {
    if (id !== renderId) return;
    p[n] = d;
    if (n === "kpis") { kpis.replaceWith(kpiCards(d.kpis)); syncControls(d.view); }
    else if (n === "rejected_sources") rejectedBox.replaceWith(rejectedSources(d));
    else await DRAW[n](n, d);
  };
  await Promise.all(names.map((n) => api(`/panels/${n}.json`).then((d) => draw(n, d))));
  vf.data = p;
}

function rejectedSources(p) {
  return el("div", { class: "scroll", id: "rejected-sources" }, table([
    { key: "srcaddr", title: "source", render: (r) => fv("srcaddr", r.srcaddr) },
    { key: "country", title: "country", render: (r) => fv("src_country", r.country) },
    { key: "network", title: "network", render: (r) => (r.network ? fv("src_network", r.network) : "-") },
    { key: "records", title: "rejected", num: true },
    { key: "ports", title: "ports", num: true },
    { key: "targets", title: "hosts", num: true },
  ], p.items));
}

async function rejected(main) {
  const d = await api("/rejected.json");
  syncControls(d.view);
  const upload = el("form", { id: "configs", onsubmit: uploadConfigs },
    el("span", { class: "muted" }, d.configurations ? "Configurations loaded: verdicts name the deciding rule and the fix. " :
      "Logs alone cannot always tell a security group from a network ACL: add the JSON of "),
    el("label", {}, " describe-security-groups ", el("input", { type: "file", name: "security_groups", accept: ".json" })),
    el("label", {}, " describe-network-acls ", el("input", { type: "file", name: "network_acls", accept: ".json" })),
    el("label", {}, " describe-network-interfaces ", el("input", { type: "file", name: "network_interfaces", accept: ".json" })),
    el("button", { type: "submit" }, "Use them"));
  const totals = Object.entries(d.totals).map(([k, v]) => `${k}: ${v.toLocaleString()} conversations`).join(" · ") || "nothing rejected in this view";
  const groups = d.groups.map((g) => el("div", { class: "card wide" },
    el("h2", {}, g.subnet_id ? ["subnet ", fv("subnet_id", g.subnet_id), " · "] : "", "interface ", fv("interface_id", g.interface_id),
       g.interface_name ? ` (${g.interface_name})` : "",
       g.instance_id ? [" · ", fv("instance_id", g.instance_id)] : ""),
    el("div", { class: "muted" }, Object.entries(g.counts).map(([k, v]) => `${k}: ${v}`).join(" · ")),
    el("div", { class: "scroll" }, table([
      { key: "verdict", title: "verdict", render: (v) => el("b", {}, v.verdict) },
      { key: "stage", title: "blocked", render: (v) => v.stage || "-" },
      { key: "conv", title: "conversation", render: (v) => el("span", {}, fv("srcaddr", v.srcaddr), " → ", fv("dstaddr", v.dstaddr), ":", fv("dstport", v.dstport), ` ${v.protocol === 6 ? "tcp" : v.protocol === 17 ? "udp" : v.protocol}`) },
      { key: "occurrences", title: "seen", num: true },
      { key: "records", title: "records", num: true },
      { key: "rule", title: "deciding rule", render: (v) => [v.group_id, v.network_acl_id, v.rule_number !== null ? `rule ${v.rule_number}` : null].filter(Boolean).join(" ") || v.decided_by },
      { key: "explanation", title: "why", render: (v) => el("div", { class: "explain" }, v.fix ? el("div", {}, el("b", {}, "Fix: "), v.fix) : null,
          el("details", {}, el("summary", {}, v.explanation.split(". ")[0] + "."), v.explanation)) },
      { key: "flows", title: "", render: (v) => el("a", { href: v.flows, onclick: (ev) => { ev.preventDefault(); history.pushState(null, "", v.flows); state = parseLocation(); render(); } }, "records") },
    ], g.verdicts)), g.more ? el("div", { class: "muted" }, `and ${g.more} less frequent conversations (rejected.json?n=…)`) : null));
  main.replaceChildren(el("div", { class: "card wide" }, el("h2", {}, "Why traffic was rejected"), el("div", { id: "totals" }, totals), upload),
    el("div", { class: "grid" }, card("Blocked conversations by interface", "wide", chartBox("verdicts")), ...groups));
  const kinds = [...new Set(d.groups.flatMap((g) => Object.keys(g.counts)))];
  const enis = d.groups.map((g) => g.interface_id);
  drawChart("verdicts", {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 170, right: 20, top: 30, bottom: 24 },
    xAxis: { type: "value" }, yAxis: { type: "category", data: enis },
    series: kinds.map((k) => ({ name: k, type: "bar", stack: "v", data: d.groups.map((g) => ({ value: g.counts[k] || 0, filters: [`interface_id=${g.interface_id}`] })) })),
  }, d, (e) => addFilters(e.data && e.data.filters));
}

async function uploadConfigs(ev) {
  ev.preventDefault();
  const body = {};
  for (const input of ev.target.querySelectorAll("input[type=file]")) {
    if (input.files.length) body[input.name] = await input.files[0].text();
  }
  try {
    const r = await fetch("/configs.json", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const b = await r.json();
    if (!r.ok) throw new Error(b.error);
    render();
  } catch (e) { showError(e.message); }
}

async function findings(main) {
  const d = await api("/findings.json");
  syncControls(d.view);
  main.replaceChildren(card(`Findings: ${Object.entries(d.by_severity).map(([k, v]) => `${v} ${k}`).join(", ") || "none"}`, "wide",
    el("div", { id: "findings" }, table([
      { key: "severity", title: "severity", render: (f) => el("span", { class: "sev-" + f.severity }, f.severity) },
      { key: "type", title: "type" },
      { key: "source", title: "source", render: (f) => fv(f.source && f.source.startsWith("eni-") ? "interface_id" : "srcaddr", f.source) },
      { key: "summary", title: "evidence", render: (f) => el("div", { class: "explain" }, f.summary) },
      { key: "first_seen", title: "first seen" }, { key: "last_seen", title: "last seen" },
      { key: "records", title: "records", num: true },
      { key: "flows", title: "", render: (f) => el("a", { href: f.flows, "data-flows": "1", onclick: (ev) => { ev.preventDefault(); history.pushState(null, "", f.flows); state = parseLocation(); render(); } }, "the records →") },
    ], d.findings))));
}

const FLOW_COLS = ["start", "end", "interface_id", "srcaddr", "srcport", "dstaddr", "dstport", "protocol", "packets", "bytes", "action", "log_status"];

async function flows(main) {
  const d = await api("/flows.json", { page: state.page_no });
  syncControls(d.view);
  const extra = d.rows.length ? Object.keys(d.rows[0]).filter((c) => !FLOW_COLS.includes(c) && d.rows.some((r) => r[c] !== null)) : [];
  const cols = [...FLOW_COLS, ...extra].map((c) => ({
    key: c, title: c, num: ["packets", "bytes", "srcport", "dstport", "protocol"].includes(c),
    render: (r) => (c === "start" || c === "end") ? (r[c] === null ? "-" : iso(r[c])) : fv(c, r[c]),
  }));
  const pager = el("div", { class: "pager" },
    el("button", { type: "button", disabled: d.page <= 1 ? "disabled" : null, onclick: () => navigate({ page_no: d.page - 1 }) }, "‹ newer"),
    el("span", { id: "pageinfo" }, `page ${d.page} of ${d.pages} · ${d.total.toLocaleString()} records`),
    el("button", { type: "button", disabled: d.page >= d.pages ? "disabled" : null, onclick: () => navigate({ page_no: d.page + 1 }) }, "older ›"));
  main.replaceChildren(card("Flow records", "wide", pager, el("div", { class: "scroll", id: "flows" }, table(cols, d.rows)),
    el("details", {}, el("summary", {}, "the SQL (vpcflow sql --dialect duckdb)"), el("pre", { class: "sql" }, d.sql))));
}

async function consolePage(main) {
  syncControls(null);
  const queries = await (await fetch("/queries.json")).json();
  const q = el("textarea", { id: "q", spellcheck: "false" });
  q.value = state.q || "SELECT action, count(*) AS records, sum(bytes) AS bytes\nFROM vpc_flow_logs\nGROUP BY 1 ORDER BY 2 DESC";
  const lang = el("select", { id: "language" }, el("option", { value: "sql" }, "SQL"), el("option", { value: "insights" }, "Logs Insights"));
  lang.value = state.language;
  const dialect = el("select", { id: "dialect" }, el("option", { value: "athena" }, "Athena (Trino)"), el("option", { value: "duckdb" }, "DuckDB"));
  dialect.value = state.dialect;
  const out = el("div", { id: "result" });
  const run = () => navigate({ q: q.value, language: lang.value, dialect: dialect.value });
  q.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); run(); } });
  const named = el("div", { class: "named" }, el("span", { class: "muted" }, "Named queries: "),
    queries.map((n) => el("button", { type: "button", title: n.description, "data-query": n.name,
      onclick: async () => {
        let sql = n.sql;
        if (sql === null) {  // required parameters: ask for them, let the server quote them
          const p = new URLSearchParams({ name: n.name });
          for (const par of n.params.filter((x) => x.required)) {
            const v = window.prompt(`${n.name}: ${par.name} (${par.description})`);
            if (v === null) return;
            p.append("p", `${par.name}=${v}`);
          }
          const r = await fetch("/queries.json?" + p);
          const b = await r.json();
          if (!r.ok) { showError(b.error); return; }
          sql = b.sql;
        }
        q.value = sql; lang.value = "sql"; dialect.value = "athena"; run();
      } }, n.name)));
  main.replaceChildren(card("Query console", "wide", named, q,
    el("div", { class: "console-bar" }, lang, dialect, el("button", { type: "button", id: "run", onclick: run }, "Run"), el("span", { class: "muted" }, "Ctrl+Enter runs · the same sandbox, row limit and time limit as the CLI · the time picker and filters do not apply here"),
      el("span", { id: "downloads" })), out));
  if (!state.q) return;
  const params = new URLSearchParams({ language: state.language, dialect: state.dialect, q: state.q });
  let d;
  try {
    const r = await fetch("/query.json?" + params);
    d = await r.json();
    if (!r.ok) throw new Error(d.error);
  } catch (e) { out.replaceChildren(el("div", { class: "muted", id: "query-error" }, e.message)); return; }
  document.getElementById("downloads").replaceChildren(
    el("a", { href: "/query.csv?" + params, download: "vpcflow-query.csv" }, "CSV"), " ",
    el("a", { href: "/query.json?" + params, download: "vpcflow-query.json" }, "JSON"));
  out.replaceChildren(
    el("div", { class: "muted", id: "query-info" }, `${d.rows.length} rows in ${d.seconds} s` + (d.truncated ? ` (truncated at the row limit of ${d.row_limit})` : "") + (d.warnings.length ? " · " + d.warnings.join("; ") : "")),
    el("div", { class: "scroll" }, table(d.columns.map((c) => ({ key: c, title: c, render: (r) => (typeof r[c] === "object" && r[c] !== null ? JSON.stringify(r[c]) : r[c]) })), d.rows)));
}

async function entity(main) {
  const d = await api(`/${state.kind}/${encodeURIComponent(state.value)}.json`);
  syncControls(d.view);
  const about = d.about ? el("div", { id: "about" }, ["scope", "country_name", "network", "aws_service", "aws_region"].filter((k) => d.about[k]).map((k) => el("span", { class: "kpi" }, el("span", { class: "l" }, k + " "), d.about[k]))) : null;
  const p = d.panels;
  main.replaceChildren(
    el("h2", {}, `${state.kind} ${state.value}`), about || "", kpiCards(p.kpis.kpis),
    el("div", { class: "grid" },
      card("Timeline", "wide", chartBox("timeseries")),
      card("Peers", "", chartBox("talkers")), card("Ports", "", chartBox("ports")),
      card("Protocols", "", chartBox("protocols")), card("Interfaces", "", chartBox("interfaces")),
      card("Findings", "wide", d.findings.length ? table([
        { key: "severity", title: "severity" }, { key: "type", title: "type" }, { key: "summary", title: "evidence" },
        { key: "flows", title: "", render: (f) => el("a", { href: f.flows }, "the records →") }], d.findings) : el("span", { class: "muted" }, "no findings"))));
  for (const n of ["timeseries", "talkers", "ports", "protocols", "interfaces"]) await DRAW[n](n, p[n]);
}

const RENDER = { overview, rejected, findings, flows, console: consolePage, entity };
const SLOW_PAGES = {
  rejected: "The troubleshooter is pairing and deciding every blocked conversation of this view " +
    "(on a busy day of 20 million records, about a minute the first time; then the answer is kept)…",
  findings: "The detectors are reading this view's records (seconds on a busy day, the first time)…",
};

async function render() {
  const id = ++renderId;
  vf.ready = false;
  document.body.dataset.ready = "0";
  for (const c of Object.values(vf.charts)) c.chart.dispose();
  vf.charts = {};
  showError(null);
  syncControls(null);
  const main = document.getElementById("main");
  const loading = el("div", { class: "muted", id: "loading" }, "loading…");
  main.replaceChildren(loading);
  // The analyses run over every record of the view the first time it is asked for (then the
  // answer is kept): say so while they work, rather than a bare "loading…" for a minute.
  const slow = SLOW_PAGES[state.page];
  const patience = slow && setTimeout(() => { loading.textContent = slow; }, 1500);
  try {
    await RENDER[state.page](main);
  } catch (e) {
    if (id !== renderId) return;
    showError(e.message);
    main.replaceChildren();
    vf.errors.push(e.message);
  }
  clearTimeout(patience);
  if (id !== renderId) return;
  document.title = `vpcflow · ${state.page === "entity" ? state.value : state.page}`;
  await new Promise((r) => requestAnimationFrame(() => r()));
  vf.ready = true;
  document.body.dataset.ready = "1";
}

window.addEventListener("DOMContentLoaded", () => {
  state = parseLocation();
  setupHeader();
  render();
});
