// The monitor console: logs into the MONITOR adapter set of the node that
// served this page, with the token the page gets from `token`, and shows
// the node, its figures of the last ten minutes, its data adapters and its
// sessions (sessions.js).
// Plain JavaScript: the only library is the official web client, whose
// bundle defines the global `lightstreamer`.
"use strict";

const WINDOW_MS = 10 * 60 * 1000;
const HISTORY = 600;

// The tiles, in order: [field of `stats`, label, formatter].
const TILES = [
  ["sessions", "sessions", count],
  ["items", "items", count],
  ["subscriptions", "subscriptions", count],
  ["connections", "connections", count],
  ["updates_per_s", "updates/s", count],
  ["bytes_out_per_s", "out/s", bytes],
  ["requests_per_s", "requests/s", count],
  ["errors_per_s", "errors/s", count],
  ["latency_p50_ms", "latency p50", ms],
  ["latency_p99_ms", "latency p99", ms],
  ["cpu_pct", "CPU", pct],
  ["rss_bytes", "memory (RSS)", bytes],
];

// The charts: [field, title, formatter].
const CHARTS = [
  ["sessions", "sessions", count],
  ["updates_per_s", "updates/s", count],
  ["bytes_out_per_s", "bytes out/s", bytes],
  ["cpu_pct", "CPU", pct],
  ["rss_bytes", "memory (RSS)", bytes],
  ["latency_p99_ms", "latency p99", ms],
];

// Sessions by the stream bound to them, under the sessions tile.
const BY_TRANSPORT = [
  ["sessions_ws_streaming", "ws"],
  ["sessions_http_streaming", "http"],
  ["sessions_ws_polling", "ws poll"],
  ["sessions_http_polling", "http poll"],
];

const STATS_FIELDS = ["ts", ...new Set([...TILES, ...CHARTS, ...BY_TRANSPORT].map((t) => t[0]))];
const NODE_FIELDS = ["name", "version", "pid", "started", "uptime_s", "listeners", "control_link"];
const ADAPTER_FIELDS = ["key", "command", "set", "adapter", "kind", "state"];

// Samples of `stats`, oldest first: {ts, values: {field: number|null}}.
const samples = [];

// --- formatting: null (not known yet) is always "–" ---

function num(v) {
  if (v === null || v === undefined || v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}
function count(n) {
  if (n === null) return "–";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
function bytes(n) {
  if (n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
function ms(n) { return n === null ? "–" : n.toFixed(n < 10 ? 2 : 0) + " ms"; }
function pct(n) { return n === null ? "–" : n.toFixed(1) + " %"; }
function duration(s) {
  if (s === null) return "–";
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${Math.floor(s % 60)}s`;
}
function text(id, value) {
  const el = document.getElementById(id);
  if (el) el.textContent = value === null || value === undefined || value === "" ? "–" : value;
}

// --- the page's parts ---

function buildTiles() {
  const box = document.getElementById("tiles");
  for (const [field, label] of TILES) {
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.innerHTML = `<div class="label"></div><div class="value" id="tile-${field}">–</div>`;
    tile.querySelector(".label").textContent = label;
    if (field === "sessions") {
      const sub = document.createElement("div");
      sub.className = "sub";
      sub.id = "tile-sessions-by-transport";
      tile.appendChild(sub);
    }
    box.appendChild(tile);
  }
}

const SVG = "http://www.w3.org/2000/svg";

function buildCharts() {
  const box = document.getElementById("charts");
  for (const [field, title] of CHARTS) {
    const chart = document.createElement("div");
    chart.className = "chart";
    chart.innerHTML = `<h3><span></span><b id="chart-now-${field}">–</b></h3>`;
    chart.querySelector("span").textContent = title + " · 10 min";
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 300 70");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.id = "chart-" + field;
    chart.appendChild(svg);
    box.appendChild(chart);
  }
}

// Draws one chart: the last ten minutes, time on x, 0..max on y.
function drawChart(field, fmt) {
  const svg = document.getElementById("chart-" + field);
  const points = samples.filter((s) => s.values[field] !== null);
  const last = samples.length ? samples[samples.length - 1].values[field] : null;
  text("chart-now-" + field, fmt(last));
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  if (points.length < 2) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", "150"); t.setAttribute("y", "40");
    t.setAttribute("text-anchor", "middle"); t.setAttribute("class", "empty");
    t.textContent = points.length ? "collecting…" : "not measured yet";
    svg.appendChild(t);
    return;
  }
  const end = samples[samples.length - 1].ts;
  const start = end - WINDOW_MS;
  const max = Math.max(...points.map((p) => p.values[field]), 1e-9) * 1.1;
  const x = (ts) => ((ts - start) / WINDOW_MS * 300).toFixed(1);
  const y = (v) => (68 - v / max * 64).toFixed(1);
  let d = "";
  for (const p of points) d += (d ? "L" : "M") + x(p.ts) + "," + y(p.values[field]);
  const area = document.createElementNS(SVG, "path");
  area.setAttribute("class", "area");
  area.setAttribute("d", `${d}L${x(points[points.length - 1].ts)},70L${x(points[0].ts)},70Z`);
  const line = document.createElementNS(SVG, "path");
  line.setAttribute("class", "line");
  line.setAttribute("d", d);
  svg.appendChild(area);
  svg.appendChild(line);
}

// Redraws at most once per animation frame, however many samples came.
let drawPending = false;
function redraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    const last = samples.length ? samples[samples.length - 1] : null;
    for (const [field, , fmt] of TILES) text("tile-" + field, fmt(last ? last.values[field] : null));
    if (last) {
      const by = BY_TRANSPORT.map(([field, name]) => `${name} ${count(last.values[field])}`);
      text("tile-sessions-by-transport", by.join(" · "));
    }
    for (const [field, , fmt] of CHARTS) drawChart(field, fmt);
    if (last) text("sampled", "last sample " + new Date(last.ts).toLocaleTimeString());
  });
}

function onSample(update) {
  const ts = num(update.getValue("ts"));
  if (ts === null) return;
  const values = {};
  for (const f of STATS_FIELDS) values[f] = num(update.getValue(f));
  samples.push({ ts, values });
  showSessionsTotal(values.sessions);
  while (samples.length > HISTORY) samples.shift();
  redraw();
}

function onNode(update) {
  update.forEachChangedField((name, _pos, value) => {
    if (name === "uptime_s") text("node-uptime", duration(num(value)));
    else if (name === "started") text("node-started", value ? new Date(value).toLocaleString() : null);
    else text("node-" + name, value);
  });
  if (update.getValue("name")) document.title = update.getValue("name") + " · Shoal monitor";
}

function onAdapter(update) {
  const body = document.querySelector("#adapters tbody");
  const key = update.getValue("key");
  const id = "row-" + key;
  let row = document.getElementById(id);
  if (update.getValue("command") === "DELETE") {
    if (row) row.remove();
    return;
  }
  if (!row) {
    row = document.createElement("tr");
    row.id = id;
    for (let i = 0; i < 4; i++) row.appendChild(document.createElement("td"));
    body.appendChild(row);
  }
  const cells = row.children;
  const state = update.getValue("state");
  cells[0].textContent = update.getValue("set");
  cells[1].textContent = update.getValue("adapter");
  cells[2].textContent = update.getValue("kind");
  cells[3].textContent = state;
  cells[3].className = state === "ready" ? "ready" : "unready";
}

function refused(message) {
  const box = document.getElementById("refused");
  box.textContent = message;
  box.hidden = false;
}

// --- connection ---

function subscribe(client, mode, item, fields, onUpdate, snapshot) {
  const sub = new lightstreamer.Subscription(mode, [item], fields);
  sub.setDataAdapter("DEFAULT");
  if (snapshot) sub.setRequestedSnapshot(snapshot);
  sub.addListener({
    onItemUpdate: onUpdate,
    onSubscriptionError: (code, message) => refused(`Subscription to ${item} refused (${code}): ${message}`),
  });
  client.subscribe(sub);
}

async function start() {
  buildTiles();
  buildCharts();
  redraw();
  let login;
  try {
    const res = await fetch("token", { cache: "no-store", credentials: "same-origin" });
    if (!res.ok) {
      refused(`The console cannot log in: ${res.status} ${(await res.text()).trim()}`);
      return;
    }
    login = await res.json();
  } catch (e) {
    refused("The console cannot reach this server: " + e);
    return;
  }
  const client = new lightstreamer.LightstreamerClient(location.origin, "MONITOR");
  client.connectionDetails.setUser(login.user);
  client.connectionDetails.setPassword(login.password);
  client.addListener({
    onStatusChange: (status) => {
      const [state, transport] = status.split(":");
      text("status", state.toLowerCase());
      text("transport", transport ? transport.toLowerCase() : null);
    },
    onServerError: (code, message) => {
      refused(`The server refused the console's session (code ${code}): ${message}`);
    },
  });
  subscribe(client, "MERGE", "node", NODE_FIELDS, onNode, "yes");
  subscribe(client, "DISTINCT", "stats", STATS_FIELDS, onSample, "yes");
  subscribe(client, "COMMAND", "adapters", ADAPTER_FIELDS, onAdapter, "yes");
  // cluster.js: the Cluster section.
  subscribe(client, "COMMAND", "cluster", CLUSTER_FIELDS, onCluster, "yes");
  subscribe(client, "COMMAND", "sessions", SESSION_FIELDS, onSession, "yes");
  client.connect();
}

start();
