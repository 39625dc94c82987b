"use strict";
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("suppressor-key") || "", policy: null, curve: null, param: "relevance_threshold" };
// the threshold each objective decides by, and how the studio names it
const THRESHOLDS = { engagement: ["relevance_threshold", "relevance threshold"], uplift: ["uplift_threshold", "uplift threshold"],
                     value: ["value_threshold", "value threshold"] };
const knobName = () => THRESHOLDS[state.policy ? state.policy.objective : "engagement"][1];
$("api-key").value = state.key;

function status(text, error) { const s = $("status"); s.textContent = text; s.className = error ? "error" : ""; }

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { "Authorization": "Bearer " + state.key, "Content-Type": "application/json" },
                                  body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail || res.statusText);
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return node;
}
function row(cells, header, attrs) { return el("tr", attrs || {}, ...cells.map((c) => el(header ? "th" : "td", typeof c === "number" ? { class: "num" } : {}, c))); }
// a row is a list of cells, or {cells, attrs} when the row itself is marked (the timeline marks each row's type)
function fill(table, head, rows) { table.replaceChildren(row(head, true), ...rows.map((r) => Array.isArray(r) ? row(r) : row(r.cells, false, r.attrs))); }
const pct = (x) => x == null ? "–" : x.toFixed(1) + "%";
const money = (x) => x == null ? "–" : Math.round(x).toLocaleString("en-US");
const rate = (r) => (100 * r.rate).toFixed(1) + "% [" + (100 * r.low).toFixed(1) + ", " + (100 * r.high).toFixed(1) + "]";

function showPolicy(p) {
  state.policy = p;
  $("policy-version").textContent = "version " + p.version;
  const caps = p.caps.map((c) => c.max + " per " + c.window + " on " + c.channel + (c.kind ? " (" + c.kind + ")" : "")).join("; ");
  fill($("policy-summary"), ["knob", "value"], [
    ["objective", p.objective],
    [THRESHOLDS[p.objective][1], p[THRESHOLDS[p.objective][0]].toFixed(3)],
    ["caps", caps || "none"],
    ["sales share at most", p.balance.enabled ? (100 * p.balance.max_sales_share).toFixed(0) + "% over " + p.balance.window : "off"],
    ["fatigue", p.fatigue.enabled ? p.fatigue.ignore_streak + " unanswered in a row rests a channel " + p.fatigue.cooldown : "off"],
    ["quiet hours", p.quiet_hours.enabled ? p.quiet_hours.start + "–" + p.quiet_hours.end : "off"],
    ["holdout", (100 * p.holdout_fraction).toFixed(0) + "% of customers"],
    ["campaign overrides", Object.keys(p.campaigns).join(", ") || "none"],
  ]);
  $("policy-json").textContent = JSON.stringify(p, null, 2);
  state.param = THRESHOLDS[p.objective][0];
  $("knob-name").textContent = knobName();
  setThreshold(p[state.param]);
}

function interpolate(points, x, field) {
  if (!points.length) return null;
  if (x <= points[0].value) return points[0][field];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1], b = points[i];
    if (x <= b.value) {
      if (a[field] == null || b[field] == null) return b[field];
      return a[field] + (b[field] - a[field]) * (x - a.value) / (b.value - a.value || 1);
    }
  }
  return points[points.length - 1][field];
}

function drawCurve() {
  const svg = $("curve"), c = state.curve;
  svg.replaceChildren();
  if (!c) return;
  const W = 640, H = 300, L = 44, R = 12, T = 12, B = 30;
  const pts = c.points, xmax = Math.max(...pts.map((p) => p.value), c.current.value, 0.01);
  const xmin = Math.min(0, ...pts.map((p) => p.value), c.current.value);
  const ys = pts.flatMap((p) => [p.sends_pct, p.engagement_pct, p.unsubscribes_pct]).filter((v) => v != null);
  const ymax = Math.max(120, ...ys);
  const X = (v) => L + (W - L - R) * (v - xmin) / (xmax - xmin), Y = (v) => T + (H - T - B) * (1 - v / ymax);
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); if (text != null) n.textContent = text; svg.append(n); return n; };
  for (let v = 0; v <= ymax; v += 25) { add("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: "#eef0f3" }); add("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, v + "%"); }
  for (let i = 0; i <= 5; i++) { const v = xmin + (xmax - xmin) * i / 5; add("text", { x: X(v), y: H - 10, "text-anchor": "middle" }, v.toFixed(3)); }
  const series = [["sends_pct", "var(--sends)"], ["engagement_pct", "var(--eng)"], ["unsubscribes_pct", "var(--unsub)"]];
  for (const [field, color] of series) {
    const p = pts.filter((q) => q[field] != null);
    add("polyline", { points: p.map((q) => X(q.value) + "," + Y(q[field])).join(" "), fill: "none", stroke: color, "stroke-width": 2, "data-series": field, "data-points": p.length });
    for (const q of p) add("circle", { cx: X(q.value), cy: Y(q[field]), r: 2.5, fill: color });
  }
  add("line", { id: "current-marker", x1: X(c.current.value), x2: X(c.current.value), y1: T, y2: H - B, stroke: "#1d2330", "stroke-width": 1.5 });
  add("text", { x: X(c.current.value) + 4, y: T + 10 }, "current");
  add("line", { id: "proposed-marker", x1: X(state.threshold), x2: X(state.threshold), y1: T, y2: H - B, stroke: "#1d2330", "stroke-dasharray": "4 3" });
  state.x = X;
}

function setThreshold(v) {
  const lo = state.param === "relevance_threshold" ? 0 : state.param === "uplift_threshold" ? -1 : -1e9;
  const hi = state.param === "value_threshold" ? 1e9 : 1;
  state.threshold = Math.max(lo, Math.min(hi, Number(v) || 0));
  $("threshold").value = state.threshold; $("threshold-value").value = state.threshold;
  const changed = state.policy && Math.abs(state.threshold - state.policy[state.param]) > 1e-9;
  $("save").disabled = !changed; $("simulate").disabled = !state.policy;
  const c = state.curve, box = $("effect");
  box.replaceChildren();
  if (!c) return;
  const fig = (label, value) => el("div", { class: "figure" }, el("b", {}, value), label);
  box.append(fig("sends", pct(interpolate(c.points, state.threshold, "sends_pct"))),
             fig("engagement kept", pct(interpolate(c.points, state.threshold, "engagement_pct"))),
             fig("unsubscribes", pct(interpolate(c.points, state.threshold, "unsubscribes_pct"))),
             fig("threshold", state.threshold.toFixed(3)));
  const m = $("proposed-marker");
  if (m) { m.setAttribute("x1", state.x(state.threshold)); m.setAttribute("x2", state.x(state.threshold)); }
}

async function loadCurve() {
  status("Replaying logged decisions for the curve…");
  const c = await api("POST", "/v1/policy:tradeoff", { param: state.param });
  state.curve = c;
  const xmax = Math.max(...c.points.map((p) => p.value), 0.01), xmin = Math.min(0, ...c.points.map((p) => p.value));
  $("threshold").min = state.param === "relevance_threshold" ? "0" : Math.min(xmin, state.threshold).toFixed(3);
  $("threshold").max = (state.param === "relevance_threshold" ? Math.min(1, Math.max(xmax, state.threshold) * 1.2)
                                                               : Math.max(xmax, state.threshold) * 1.2).toFixed(3);
  $("picks").textContent = Object.entries(c.picks).map(([k, p]) => "keep " + k + " of engagement: " + knobName() + " " + p.value.toFixed(3) + " → " + pct(p.sends_pct) + " of sends").join(" · ")
    + " (" + c.decisions + " decisions of " + c.customers + " customers, model " + (c.model_version || "none") + ")";
  drawCurve(); setThreshold(state.threshold);
}

async function loadLift() {
  const r = await api("GET", "/v1/holdout?bucket_days=7");
  const rows = [];
  const blocks = r.overall ? [["all", r.overall], ...r.buckets.map((b) => [b.from.slice(0, 10), b])] : [];
  const outcomes = ["engaged", "unsubscribed", "complained", "converted", "service_visit"];
  for (const [label, b] of blocks) {
    for (const g of ["governed", "holdout"]) {
      const x = b[g], m = x.revenue_per_customer;
      rows.push([label, g, x.customers, x.sends_per_customer == null ? "–" : x.sends_per_customer.toFixed(2),
                 ...outcomes.map((o) => rate(x[o])), money(m.mean) + " [" + money(m.low) + ", " + money(m.high) + "]"]);
    }
    const d = b.difference, diff = (y) => (100 * y.diff).toFixed(2) + " pts [" + (100 * y.low).toFixed(2) + ", " + (100 * y.high).toFixed(2) + "]";
    const m = d.revenue_per_customer;
    rows.push([label, "governed − holdout", "", "", ...outcomes.map((o) => diff(d[o])),
               (m.diff >= 0 ? "+" : "") + money(m.diff) + " [" + money(m.low) + ", " + money(m.high) + "]"]);
  }
  const head = ["period", "group", "customers", "sends / customer", "engaged", "unsubscribed", "complained", "bought",
                "came in for service", "revenue / customer (" + r.currency + ")"];
  fill($("lift"), head, rows.length ? rows : [["no decisions logged yet", ...head.slice(1).map(() => "")]]);
}

async function lookup() {
  const id = $("customer-id").value.trim();
  if (!id) return;
  const path = encodeURIComponent(id);
  const [c, t] = await Promise.all([api("GET", "/v1/customers/" + path), api("GET", "/v1/timeline/" + path + "?limit=50")]);
  const fig = (label, value) => el("div", { class: "figure" }, el("b", {}, value), label);
  const top = (xs) => xs.slice(0, 3).map((x) => x.name + " " + (100 * x.chance).toFixed(0) + "%").join(", ") || "–";
  $("customer-facts").replaceChildren(
    fig("customer", c.customer_id), fig("stage", c.attributes.lead_stage || "–"), fig("household", c.household_id || "–"),
    fig("vehicles", c.vehicles.map((v) => [v.year, v.make, v.model].filter(Boolean).join(" ")).join("; ") || "–"),
    fig("answers on", top(c.channel_affinities)), fig("interested in", top(c.interests)),
    fig("consent", Object.entries(c.consent).filter(([, v]) => v).map(([k]) => k).join(", ") || "–"));
  const terms = (o) => Object.entries(o.terms).map(([k, v]) => k + " " + v).join(", ");
  fill($("customer-offers"), ["offer", "terms", "channel", "sent", "expires", "held by"], t.offers.length ? t.offers.map((o) => [
    o.key, terms(o), o.channel || "–", o.sent_at.slice(0, 10), o.expires.slice(0, 10), o.held_by === c.customer_id ? "this customer" : o.held_by + " (household)"])
    : [["no offer standing", "", "", "", "", ""]]);
  fill($("customer-timeline"), ["when", "what", "message", "channel", "why"], t.items.map((i) => ({ attrs: { "data-type": i.type }, cells: i.type === "decision"
    ? [i.at.replace("T", " ").slice(0, 16), el("span", { class: "action " + i.action }, i.action), i.message_id, i.channel || "–",
       el("div", {}, ...i.reasons.map((x) => el("div", {}, el("b", {}, x.code), " " + x.message)))]
    : [i.at.replace("T", " ").slice(0, 16), i.event, i.message_id || "–", i.channel || "–", i.topics.join(", ")] })));
  $("customer").hidden = false;
  status("Customer " + c.customer_id + ": " + t.items.length + " recent items.");
}

async function loadDecisions() {
  const r = await api("GET", "/v1/decisions?limit=20");
  fill($("decisions"), ["decided", "customer", "message", "verdict", "channel", "reasons"], r.decisions.map((d) => [
    d.decided_at.replace("T", " ").slice(0, 19), d.customer_id, d.message_id,
    el("span", { class: "action " + d.action }, d.action), d.channel || "–",
    el("div", {}, ...d.reasons.map((x) => el("div", {}, el("b", {}, x.code), " " + x.message)))]));
}

async function refresh() {
  showPolicy(await api("GET", "/v1/policy"));
  await Promise.all([loadDecisions(), loadLift()]);
  await loadCurve();
  status("Policy version " + state.policy.version + " loaded.");
}

async function simulateExactly() {
  status("Simulating " + knobName() + " " + state.threshold.toFixed(3) + "…");
  const r = await api("POST", "/v1/policy:simulate", { changes: { [state.param]: state.threshold }, examples: 10 });
  const cur = r.current, cand = r.candidate, iv = r.change.intervals || {};
  const ci = (name, unit) => iv[name] ? " (95%: " + iv[name][0] + unit + " to " + iv[name][1] + unit + ")" : "";
  const by = (field) => [...new Set([...Object.keys(cur[field]), ...Object.keys(cand[field])])]
    .map((k) => [field.replace("_by", "") + " by " + k, cur[field][k] || 0, cand[field][k] || 0, ""]);
  fill($("sim-table"), ["", "current (v" + cur.policy_version + ")", "proposed", "change"], [
    ["sends", cur.sends, cand.sends, pct(r.change.sends_pct) + " of current" + ci("sends_pct", "%")],
    ["expected engagement", cur.engagement, cand.engagement, pct(r.change.engagement_kept_pct) + " kept" + ci("engagement_pct", "%")],
    ["expected unsubscribes", cur.unsubscribes, cand.unsubscribes, r.change.unsubscribes_avoided + " avoided" + ci("unsubscribes_avoided", "")],
    ["expected complaints", cur.complaints, cand.complaints, r.change.complaints_avoided + " avoided" + ci("complaints_avoided", "")],
    ["expected purchases and conversions", cur.conversions, cand.conversions, pct(r.change.conversions_kept_pct) + " kept"],
    ["expected service visits", cur.service_visits, cand.service_visits, pct(r.change.service_visits_kept_pct) + " kept"],
    ["expected revenue (" + r.currency + ")", money(cur.revenue), money(cand.revenue), pct(r.change.revenue_kept_pct) + " kept" + ci("revenue_pct", "%")
      + "; " + (r.change.revenue_per_customer_change >= 0 ? "+" : "") + r.change.revenue_per_customer_change + " per customer"],
    ["sales share of sends", pct(100 * cur.mix.sales_share), pct(100 * cand.mix.sales_share), ""],
    ...by("suppressed_by"), ...by("deferred_by"), ...by("rerouted_by"),
  ]);
  const says = (v) => el("div", {}, el("span", { class: "action " + v.action }, v.action + (v.channel ? " on " + v.channel : "")), ...v.reasons.map((x) => el("div", { class: "muted" }, x.message)));
  fill($("sim-examples"), ["customer", "message", "current", "proposed"], r.examples.map((e) => [e.customer_id, e.message_id, says(e.current), says(e.candidate)]));
  $("sim-section").hidden = false;
  status(r.decisions + " decisions replayed; " + r.change.decisions_changed + " would change.");
}

async function save() {
  $("save").disabled = true;
  const p = await api("PATCH", "/v1/policy", { [state.param]: state.threshold });
  showPolicy(p);
  const saved = "Saved: policy version " + p.version + ", " + knobName() + " " + p[state.param].toFixed(3) + ".";
  status(saved);
  loadCurve().then(() => status(saved)).catch((e) => status(e.message, true));
}

const guard = (fn) => () => fn().catch((e) => status(e.message, true));
$("connect").addEventListener("click", guard(async () => { state.key = $("api-key").value.trim(); sessionStorage.setItem("suppressor-key", state.key); await refresh(); }));
$("threshold").addEventListener("input", (e) => setThreshold(e.target.value));
$("threshold-value").addEventListener("input", (e) => setThreshold(e.target.value));
$("simulate").addEventListener("click", guard(simulateExactly));
$("save").addEventListener("click", guard(save));
$("lookup").addEventListener("click", guard(lookup));
$("customer-id").addEventListener("keydown", (e) => { if (e.key === "Enter") guard(lookup)(); });
if (state.key) guard(refresh)();
