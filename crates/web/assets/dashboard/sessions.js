// The console's Sessions table: the rows of MONITOR's `sessions` item
// (COMMAND, key = session id), most recent first, as the server orders
// them. The item lists the 200 most recent sessions at most; the `sessions`
// figure of `stats` counts them all, and the caption says when the table
// shows fewer. console.js subscribes with SESSION_FIELDS and onSession, and
// passes each sample's count to showSessionsTotal.
"use strict";

const SESSION_FIELDS = [
  "key", "command", "adapter_set", "user", "client_ip", "transport", "started", "subscriptions", "user_agent",
];
// The columns, in order (each cell's class is its field).
const SESSION_COLUMNS = [
  "key", "adapter_set", "user", "client_ip", "transport", "started", "subscriptions", "user_agent",
];

// The table's rows by session id.
const sessionRows = new Map();
let sessionsTotal = null;

// Whether row `a` comes before row `b`: the newer first, then by id.
function sessionBefore(a, b) {
  if (a.dataset.started !== b.dataset.started) return a.dataset.started > b.dataset.started;
  return a.dataset.session < b.dataset.session;
}

// Puts `row` at its place in the table (RFC 3339 UTC times sort as text).
function placeSession(body, row) {
  for (const other of body.children) {
    if (other !== row && sessionBefore(row, other)) {
      body.insertBefore(row, other);
      return;
    }
  }
  body.appendChild(row);
}

function sessionCell(row, field, value) {
  const cell = row.querySelector("td." + field);
  if (field === "started") {
    // Shown as local time; the exact UTC time on hover.
    cell.textContent = value ? new Date(value).toLocaleTimeString() : "–";
    cell.title = value || "";
  } else {
    cell.textContent = value === null || value === "" ? "–" : value;
    if (field === "user_agent" || field === "key") cell.title = value || "";
  }
}

function onSession(update) {
  const body = document.querySelector("#sessions tbody");
  const id = update.getValue("key");
  let row = sessionRows.get(id);
  if (update.getValue("command") === "DELETE") {
    if (row) row.remove();
    sessionRows.delete(id);
    showSessionsTotal(sessionsTotal);
    return;
  }
  if (!row) {
    row = document.createElement("tr");
    row.dataset.session = id;
    for (const field of SESSION_COLUMNS) {
      const td = document.createElement("td");
      td.className = field;
      row.appendChild(td);
    }
    sessionRows.set(id, row);
  }
  for (const field of SESSION_COLUMNS) sessionCell(row, field, update.getValue(field));
  row.dataset.started = update.getValue("started") || "";
  placeSession(body, row);
  showSessionsTotal(sessionsTotal);
}

// The caption: how many sessions there are, and whether the table lists
// them all. `total` is the last sample's count (null before one came).
function showSessionsTotal(total) {
  sessionsTotal = total;
  const shown = sessionRows.size;
  let caption = `${shown} shown`;
  if (total !== null && total > shown) caption = `${shown} most recent of ${total}`;
  else if (total !== null) caption = `${total}`;
  text("sessions-count", caption);
}
