// The console's "Cluster" section: MONITOR's `cluster` item (COMMAND, one
// row per node, this node included) drawn as one card per node, side by
// side: its name links to that node's own console, its state is coloured,
// and its figures are the ones its status document gave last. Loaded
// before console.js, which subscribes with CLUSTER_FIELDS and onCluster.
"use strict";

const CLUSTER_FIELDS = ["key", "command", "name", "console_url", "source", "state", "sessions",
  "updates_per_s", "cpu_pct", "rss_bytes", "uptime_s", "latency_p99_ms", "last_seen", "error"];

// The figures of a card: [field, label, formatter of the field's text].
const CLUSTER_FIGURES = [
  ["sessions", "sessions", (v) => clusterNum(v, 0)],
  ["updates_per_s", "updates/s", (v) => clusterNum(v, 1)],
  ["cpu_pct", "CPU", (v) => clusterNum(v, 1, " %")],
  ["rss_bytes", "RSS", (v) => (v === null ? "–" : (Number(v) / 1048576).toFixed(0) + " MiB")],
  ["latency_p99_ms", "p99", (v) => clusterNum(v, 1, " ms")],
  ["uptime_s", "up", (v) => (v === null ? "–" : clusterDuration(Number(v)))],
];

function clusterNum(v, digits, unit = "") {
  return v === null || v === "" ? "–" : Number(v).toFixed(digits) + unit;
}

function clusterDuration(s) {
  if (s < 120) return s + " s";
  if (s < 7200) return Math.floor(s / 60) + " min";
  return Math.floor(s / 3600) + " h";
}

// The card of node `key`, made on first sight.
function clusterCard(key) {
  const id = "node-card-" + key;
  let card = document.getElementById(id);
  if (card) return card;
  card = document.createElement("article");
  card.id = id;
  card.className = "node-card";
  card.dataset.node = key;
  const head = document.createElement("h3");
  const link = document.createElement("a");
  link.className = "node-link";
  head.appendChild(link);
  const state = document.createElement("span");
  state.className = "node-state";
  head.appendChild(state);
  card.appendChild(head);
  const figures = document.createElement("dl");
  for (const [field, label] of CLUSTER_FIGURES) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.field = field;
    figures.append(dt, dd);
  }
  card.appendChild(figures);
  const foot = document.createElement("p");
  foot.className = "node-foot";
  card.appendChild(foot);
  const cards = document.getElementById("cluster-nodes");
  // Kept in name order.
  const after = [...cards.children].find((c) => c.dataset.node > key);
  cards.insertBefore(card, after || null);
  return card;
}

function onCluster(update) {
  const key = update.getValue("key");
  if (update.getValue("command") === "DELETE") {
    const card = document.getElementById("node-card-" + key);
    if (card) card.remove();
    return;
  }
  const card = clusterCard(key);
  const get = (f) => update.getValue(f);
  const link = card.querySelector(".node-link");
  link.textContent = get("name");
  if (get("console_url")) link.href = get("console_url");
  const self = get("source") === "self";
  card.classList.toggle("self", self);
  const state = card.querySelector(".node-state");
  state.textContent = self ? get("state") + " · this node" : get("state");
  card.dataset.state = get("state");
  for (const [field, , fmt] of CLUSTER_FIGURES) {
    card.querySelector(`dd[data-field="${field}"]`).textContent = fmt(get(field));
  }
  const seen = get("last_seen") ? "seen " + new Date(get("last_seen")).toLocaleTimeString() : "never seen";
  const why = get("error") ? " · " + get("error") : "";
  card.querySelector(".node-foot").textContent = `${get("source")} · ${seen}${why}`;
}
