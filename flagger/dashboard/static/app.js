// The flagger dashboard: plain JavaScript, no libraries, no network but this server.
"use strict";

const REFRESH_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
let timer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function health(s) {
  if (s.phase === "Failed") return "red";
  if (s.paused || s.phase === "Waiting" || s.phase === "WaitingPromotion") return "yellow";
  if (!s.failed.startsWith("0/")) return "yellow";
  return "green";
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function header(body) {
  document.getElementById("who").textContent = body.user ? `signed in as ${body.user}` : "";
  const mode = document.getElementById("mode");
  mode.textContent = body.readOnly ? "read-only" : "";
  mode.className = body.readOnly ? "ro" : "";
}

// --- the list ---------------------------------------------------------------------------------

async function showList() {
  const error = document.getElementById("list-error");
  let body;
  try { body = await getJSON("/api/canaries"); error.hidden = true; }
  catch (e) { error.textContent = e.message; error.hidden = false; return; }
  header(body);
  const rows = document.querySelector("#canaries tbody");
  rows.replaceChildren(...body.canaries.map((s) => {
    const fill = el("span", {});
    fill.style.width = `${Math.min(s.weight, 100)}%`;  // CSSOM, allowed by the page's CSP
    const meter = el("span", { class: "meter" }, fill);
    const row = el("tr", { "data-name": s.name, "data-namespace": s.namespace },
      el("td", {}, s.namespace), el("td", {}, el("a", { href: `#/${s.namespace}/${s.name}` }, s.name)),
      el("td", {}, el("span", { class: `badge ${health(s)}` }, s.status)),
      el("td", { class: "weight" }, meter, `${s.weight}%`), el("td", {}, s.step), el("td", {}, s.failed),
      el("td", { class: "muted" }, s.message));
    row.addEventListener("click", () => { location.hash = `#/${s.namespace}/${s.name}`; });
    return row;
  }));
  document.getElementById("empty").hidden = body.canaries.length > 0;
}

// --- charts -----------------------------------------------------------------------------------

function chart(points, { min, max, unit, thresholds, stepped }) {
  const W = 640, H = 200, L = 44, R = 10, T = 10, B = 26;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  if (!points.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no samples yet"));
    return root;
  }
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
  const values = points.map((p) => p[1]).concat((thresholds || []).filter((v) => v !== null));
  const lo = min !== undefined ? min : Math.min(...values), hi0 = max !== undefined ? max : Math.max(...values);
  const hi = hi0 === lo ? lo + 1 : hi0;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    root.append(svg("line", { class: "grid-line", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    root.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, `${+v.toFixed(1)}${unit || ""}`));
  }
  root.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    root.append(svg("text", { x: x(t), y: H - 8, "text-anchor": anchor }, new Date(t * 1000).toLocaleTimeString()));
  }
  let path = "";
  points.forEach(([t, v], i) => {
    if (i === 0) path += `M${x(t)},${y(v)}`;
    else path += stepped ? `H${x(t)}V${y(v)}` : `L${x(t)},${y(v)}`;
  });
  root.append(svg("path", { class: "line", d: path }));
  for (const v of thresholds || []) {
    if (v === null) continue;
    root.append(svg("line", { class: "threshold", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
  }
  if (!stepped) {
    for (const [t, v] of points) {
      const bad = (thresholds[0] !== null && v < thresholds[0]) || (thresholds[1] !== null && v > thresholds[1]);
      root.append(svg("circle", { class: bad ? "dot bad" : "dot", cx: x(t), cy: y(v), r: 2.5 }));
    }
  }
  return root;
}

// --- one canary -------------------------------------------------------------------------------

const LABELS = { promote: "Promote one step", "promote-full": "Promote now (--full)", abort: "Abort (roll back)", retry: "Retry", pause: "Pause", resume: "Resume" };

async function ask(namespace, name, action, full) {
  const toast = document.getElementById("toast");
  toast.className = "";
  toast.textContent = `asking to ${action}${full ? " --full" : ""}...`;
  try {
    const response = await fetch(`/api/canaries/${namespace}/${name}/actions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Flagger-Dashboard": "1" },
      body: JSON.stringify({ action, full }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    toast.textContent = body.message;
  } catch (e) { toast.textContent = e.message; toast.className = "error"; }
  refresh();
}

function actionButtons(namespace, name, allowed) {
  const box = document.getElementById("actions");
  const wanted = [["promote", false], ["promote", true], ["abort", false], ["retry", false], ["pause", false], ["resume", false]];
  box.replaceChildren(...wanted.map(([action, full]) => {
    const key = full ? "promote-full" : action;
    const state = allowed[action];
    const button = el("button", { type: "button", "data-action": key, class: action === "abort" ? "danger" : "", title: state.reason || "" }, LABELS[key]);
    button.disabled = !state.enabled;
    button.addEventListener("click", () => ask(namespace, name, action, full));
    return el("div", { class: "action" }, button, el("span", { class: "why" }, state.reason || ""));
  }));
}

async function showCanary(namespace, name) {
  let body;
  try { body = await getJSON(`/api/canaries/${namespace}/${name}`); }
  catch (e) { document.getElementById("title").textContent = e.message; return; }
  header(body);
  const d = body.detail, s = d.summary;
  document.getElementById("title").textContent = `${s.name}.${s.namespace}`;
  const line = document.getElementById("status-line");
  line.replaceChildren(el("span", { class: `badge ${health(s)}`, id: "phase" }, s.status), " ",
    el("span", { id: "weight" }, `canary weight ${s.weight}%`), ` \u00b7 step ${s.step} \u00b7 failed checks ${s.failed}`,
    s.pending_action ? ` \u00b7 ${s.pending_action} asked, waiting for the daemon` : "");
  actionButtons(namespace, name, body.actions);
  const top = d.ladder.length ? d.ladder[d.ladder.length - 1] : 100;
  const weightChart = document.getElementById("weight-chart");
  weightChart.replaceChildren(chart(body.weights, { min: 0, max: Math.max(top, 10), unit: "%", thresholds: [], stepped: true }));
  const facts = [["Target", `${d.target} (primary ${d.primary})`], ["Provider", d.provider], ["Strategy", d.strategy],
    ["Weights", d.ladder.map((w) => `${w}%`).join(" \u2192 ") || "-"], ["Interval", d.interval], ["Threshold", `${d.threshold} failed checks`],
    ["Last action", d.last_action || "-"]];
  document.getElementById("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const checks = document.getElementById("checks");
  checks.replaceChildren(...(d.checks.length ? d.checks.map((c) => {
    const series = body.metrics[c.name] || [];
    const box = el("div", { class: "check", "data-check": c.name }, el("p", {}, el("strong", {}, c.name), ` threshold ${c.threshold} \u00b7 last value ${c.last}`));
    if (series.length) box.append(el("div", { class: "chart" }, chart(series, { thresholds: [c.minimum, c.maximum] })));
    return box;
  }) : [el("p", { class: "muted" }, "no metric checks")]));
  if (!Object.keys(body.metrics).length && d.checks.length) {
    checks.append(el("p", { class: "muted" }, "values over time need Prometheus: flagger dashboard --prometheus URL; last failed values come from the events"));
  }
  const hooks = document.getElementById("webhooks");
  hooks.replaceChildren(d.webhooks.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Type"), el("th", {}, "Last result"), el("th", {}, "URL"))),
    el("tbody", {}, ...d.webhooks.map((w) => el("tr", {}, el("td", {}, w.name), el("td", {}, w.type), el("td", {}, w.last), el("td", { class: "muted" }, w.url)))))
    : el("p", { class: "muted" }, "no webhooks"));
  document.getElementById("events").replaceChildren(...d.events.slice().reverse().map((e) =>
    el("li", {}, el("span", { class: "muted" }, e.time), el("span", { class: e.type }, e.type), el("span", {}, e.message))));
}

// --- routing ----------------------------------------------------------------------------------

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const single = parts.length === 2;
  document.getElementById("list-view").hidden = single;
  document.getElementById("canary-view").hidden = !single;
  if (!single) document.getElementById("toast").textContent = "";
  return single ? () => showCanary(parts[0], parts[1]) : showList;
}

async function refresh() {
  clearTimeout(timer);
  try { await route()(); } finally { timer = setTimeout(refresh, REFRESH_MS); }
}

window.addEventListener("hashchange", refresh);
document.addEventListener("DOMContentLoaded", refresh);
