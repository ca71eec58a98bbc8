// The wallboard: renders each snapshot pushed on /api/v1/stream (Server-Sent Events).
// Waits and times in state tick locally between snapshots. EventSource reconnects by itself;
// when the server refuses it (it then stops), we open a new one after RETRY_MS.
// Test hooks: [data-queue="<name>"] [data-field="waiting"], [data-agent="<id>"], body attributes.

const RETRY_MS = 5000;
const WINDOW = "15m";
const AMBER_POINTS = 0.10; // amber: within 10 points below target
const STATE_LABELS = {
  ready: "Ready", reserved: "Ringing", on_call: "On call", wrap_up: "Wrap-up",
  not_ready: "Not ready", logged_out: "Logged out",
};
const STATE_ORDER = ["on_call", "reserved", "wrap_up", "ready", "not_ready"];

const token = new URLSearchParams(location.search).get("token");
// Only the parts the board shows: the calls list alone is megabytes a push in a big centre.
const streamUrl = "/api/v1/stream?parts=centre,queues,agents" +
  (token ? "&token=" + encodeURIComponent(token) : "");

const tiles = new Map(); // queue name -> {el, fields, data}
const agentRows = new Map(); // agent id -> {el, fields, data}
let receivedAt = 0; // performance.now() when the current snapshot arrived
let generatedAt = 0;

function fieldsOf(el) {
  const fields = {};
  for (const f of el.querySelectorAll("[data-field]")) fields[f.dataset.field] = f;
  return fields;
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
}

function percent(share) {
  return share == null ? "–" : Math.round(share * 100) + "%";
}

export function slColour(value, target) {
  if (value == null) return "none";
  if (value >= target) return "green";
  if (value >= target - AMBER_POINTS - 1e-9) return "amber";
  return "red";
}

function elapsed() {
  return receivedAt ? (performance.now() - receivedAt) / 1000 : 0;
}

function renderQueue(tile, q) {
  const f = tile.fields;
  const w = (q.windows && q.windows[WINDOW]) || null;
  const sl = w ? w.service_level : null;
  const target = sl ? sl.target : q.target_pct / 100;
  tile.data = q;
  tile.el.dataset.waiting = String(q.waiting);
  setText(f.name, q.name === "*" ? "All queues" : q.name);
  setText(f.waiting, String(q.waiting));
  setText(f.sl, percent(sl ? sl.value : null));
  const pct = Math.round(target * 100); // the centre mixes thresholds: it has none (0)
  setText(f.sl_label, q.threshold_s > 0 ? `SL 15 m · ${pct}/${q.threshold_s}`
    : `SL 15 m · target ${pct}%`);
  f.sl_box.dataset.sl = slColour(sl ? sl.value : null, target);
  setText(f.asa, w && w.asa_s != null ? duration(w.asa_s) : "–");
  const a = q.agents;
  setText(f.ready, String(a.ready));
  setText(f.busy, String(a.reserved + a.on_call + a.wrap_up));
  setText(f.not_ready, String(a.not_ready));
  if (f.staffing) renderStaffing(f, q.agents_needed_now, q.agents_short_now);
  const today = q.windows && q.windows.today;
  if (today && f.offered_today) {
    setText(f.offered_today, String(today.offered));
    setText(f.answered_today, String(today.answered));
    setText(f.abandoned_today, String(today.abandoned));
  }
  renderQuality(f, q, today);
  tickQueue(tile);
}

// Erlang C for the last hour's calls and AHT (stats/staffing.py): how many agents would meet
// the target now, and how many more than are logged in that is.
export function staffingText(needed, short) {
  if (needed == null) return "agents needed: –";
  if (short > 0) return `needs ${needed} agents · ${short} short`;
  return `needs ${needed} agents · staffed` + (short < 0 ? ` (+${-short})` : "");
}

function renderStaffing(f, needed, short) {
  setText(f.staffing, staffingText(needed, short));
  f.staffing_box.dataset.short = needed == null ? "unknown" : String(short > 0);
}

// Today's caller-facing figures: CSAT index, NPS, EWT accuracy, callbacks waiting now.
function renderQuality(f, q, today) {
  if (!f.csat) return;
  const survey = today && today.survey;
  const accuracy = today && today.ewt_accuracy;
  setText(f.csat, survey && survey.csat_index != null ? String(Math.round(survey.csat_index)) : "–");
  setText(f.nps, survey && survey.nps != null
    ? (survey.nps > 0 ? "+" : "") + String(Math.round(survey.nps)) : "–");
  setText(f.ewt_error, accuracy && accuracy.mean_abs_error_s != null
    ? duration(accuracy.mean_abs_error_s) : "–");
  setText(f.callbacks, String(q.callbacks_waiting || 0));
}

function tickQueue(tile) {
  const q = tile.data;
  if (!q) return;
  const wait = q.waiting > 0 ? q.longest_wait_s + elapsed() : 0;
  setText(tile.fields.longest_wait, duration(wait));
  tile.fields.longest_wait.closest(".stat").dataset.late =
    String(q.waiting > 0 && q.threshold_s > 0 && wait > q.threshold_s);
}

function queueTile(name) {
  let tile = tiles.get(name);
  if (!tile) {
    const el = document.getElementById("queue-tile").content.firstElementChild.cloneNode(true);
    el.dataset.queue = name;
    tile = { el, fields: fieldsOf(el), data: null };
    tiles.set(name, tile);
  }
  return tile;
}

function renderQueues(snap) {
  const section = document.getElementById("queues");
  const centre = tiles.get("*");
  renderQueue(centre, snap.centre);
  const seen = new Set(["*"]);
  let previous = centre.el;
  for (const q of snap.queues) {
    const tile = queueTile(q.name);
    renderQueue(tile, q);
    seen.add(q.name);
    if (previous.nextElementSibling !== tile.el) previous.after(tile.el);
    previous = tile.el;
  }
  for (const [name, tile] of tiles) {
    if (!seen.has(name)) { tile.el.remove(); tiles.delete(name); }
  }
  section.dataset.queues = String(snap.queues.length);
}

function renderAgents(agents) {
  const list = document.getElementById("agent-list");
  const shown = agents.filter((a) => a.state !== "logged_out");
  shown.sort((a, b) => {
    const sa = STATE_ORDER.indexOf(a.state), sb = STATE_ORDER.indexOf(b.state);
    return sa - sb || b.time_in_state_s - a.time_in_state_s || a.name.localeCompare(b.name);
  });
  const seen = new Set();
  shown.forEach((agent, index) => {
    let row = agentRows.get(agent.id);
    if (!row) {
      const el = document.getElementById("agent-row").content.firstElementChild.cloneNode(true);
      el.dataset.agent = agent.id;
      row = { el, fields: fieldsOf(el), data: null };
      agentRows.set(agent.id, row);
    }
    row.data = agent;
    row.el.dataset.state = agent.state;
    setText(row.fields.name, agent.name || agent.id);
    setText(row.fields.state, STATE_LABELS[agent.state] || agent.state);
    setText(row.fields.reason, agent.state === "not_ready" ? agent.reason : "");
    tickAgent(row);
    if (list.children[index] !== row.el) list.insertBefore(row.el, list.children[index] || null);
    seen.add(agent.id);
  });
  for (const [id, row] of agentRows) {
    if (!seen.has(id)) { row.el.remove(); agentRows.delete(id); }
  }
  const loggedOut = agents.length - shown.length;
  setText(document.querySelector('[data-field="agents_summary"]'),
    `${shown.length} logged in` + (loggedOut ? ` · ${loggedOut} out` : ""));
}

function tickAgent(row) {
  setText(row.fields.time_in_state, duration(row.data.time_in_state_s + elapsed()));
}

function render(snap) {
  receivedAt = performance.now();
  generatedAt = snap.generated_at;
  renderQueues(snap);
  renderAgents(snap.agents);
  document.body.dataset.generatedAt = String(snap.generated_at);
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
}

function tick() {
  for (const tile of tiles.values()) tickQueue(tile);
  for (const row of agentRows.values()) tickAgent(row);
  const now = new Date();
  setText(document.getElementById("clock"), now.toLocaleTimeString([], { hour12: false }));
  if (generatedAt) {
    const age = Math.max(0, now.getTime() / 1000 - generatedAt);
    setText(document.getElementById("updated"), age < 10 ? "" : `figures ${duration(age)} old`);
  }
}

// --- call reasons (issue 9): read from the API every REASONS_MS (not on the stream) -------
const REASONS_MS = 15000;
const reasonRows = new Map(); // reason name -> {el, fields}
let reasonsTimer = 0;

function signed(n) {
  return (n > 0 ? "+" : n < 0 ? "−" : "±") + Math.abs(n);
}

function trendText(t) {
  if (!t) return "–";
  const pct = t.growth == null ? "" : ` (${signed(Math.round(t.growth * 100))}%)`;
  const arrow = t.change > 0 ? "▲ " : t.change < 0 ? "▼ " : "";
  return `${arrow}${t.this_week} · ${signed(t.change)}${pct}`;
}

export function renderReasons(list, trends) {
  const section = document.getElementById("reasons");
  const body = document.getElementById("reason-rows");
  const byName = new Map((trends ? trends.reasons : []).map((t) => [t.name, t]));
  const shown = list.reasons.filter((r) => r.today.offered > 0 || r.waiting > 0
    || r.connected > 0 || (byName.get(r.name) || {}).this_week > 0);
  const seen = new Set();
  shown.forEach((r, index) => {
    let row = reasonRows.get(r.name);
    if (!row) {
      const el = document.getElementById("reason-row").content.firstElementChild.cloneNode(true);
      el.dataset.reason = r.name;
      row = { el, fields: fieldsOf(el) };
      reasonRows.set(r.name, row);
    }
    const d = r.today;
    const t = byName.get(r.name);
    setText(row.fields.label, r.label);
    setText(row.fields.waiting, String(r.waiting));
    setText(row.fields.offered, String(d.offered));
    setText(row.fields.sl, percent(d.service_level.value));
    setText(row.fields.resolved, percent(d.resolved_rate));
    setText(row.fields.transfers, percent(d.transfer_rate));
    setText(row.fields.csat, d.csat_index == null ? "–" : String(Math.round(d.csat_index)));
    setText(row.fields.trend, trendText(t));
    row.el.dataset.trend = !t || t.change === 0 ? "flat" : t.change > 0 ? "up" : "down";
    if (body.children[index] !== row.el) body.insertBefore(row.el, body.children[index] || null);
    seen.add(r.name);
  });
  for (const [name, row] of reasonRows) {
    if (!seen.has(name)) { row.el.remove(); reasonRows.delete(name); }
  }
  const top = (trends ? trends.reasons : []).find((t) => t.change > 0);
  setText(document.querySelector('[data-field="reasons_summary"]'),
    top ? `grew most this week: ${top.label} ${signed(top.change)}` : "");
  section.hidden = shown.length === 0;
  document.body.dataset.reasons = String(Number(document.body.dataset.reasons || 0) + 1);
}

async function loadReasons() {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  try {
    const [now, week] = await Promise.all([
      fetch("/api/v1/reasons", { headers }), fetch("/api/v1/reasons/trends", { headers })]);
    if (now.ok) renderReasons(await now.json(), week.ok ? await week.json() : null);
  } catch (err) {
    // the stream's banner already says the service is away; try again next round
  }
}

function setConnection(state) {
  document.body.dataset.connection = state;
  document.getElementById("banner").hidden = state === "open";
  setText(document.getElementById("connection"),
    { open: "● live", reconnecting: "reconnecting…", connecting: "connecting…" }[state]);
}

function connect() {
  const source = new EventSource(streamUrl);
  source.addEventListener("open", () => setConnection("open"));
  source.addEventListener("snapshot", (event) => {
    setConnection("open");
    render(JSON.parse(event.data));
    if (!reasonsTimer) { // figures exist now: the reasons too
      loadReasons();
      reasonsTimer = setInterval(loadReasons, REASONS_MS);
    }
  });
  source.addEventListener("error", () => {
    setConnection("reconnecting");
    if (source.readyState === EventSource.CLOSED) { // refused: EventSource gives up, we do not
      source.close();
      setTimeout(connect, RETRY_MS);
    }
  });
}

const centre = document.getElementById("centre");
tiles.set("*", { el: centre, fields: fieldsOf(centre), data: null });
setInterval(tick, 500);
tick();
connect();
