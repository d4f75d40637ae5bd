// Pointy live run widget: an anywidget ESM module. No build step, no imports.
//
// The graph is laid out here from the `root` of the graph JSON (the block tree of docs/design.md,
// in the `graph_json` trait): sequences run
// left to right, parallel members and branch arms are stacked, arms carry their descriptor. The SVG
// is built once per graph. Node views arrive as columnar tables ({ids, state, attempts,
// duration_us, descriptor}): the whole graph's in the `nodes_json` trait (when a run is attached,
// now and then while it runs, and at its end), and the nodes that changed since the kernel's last
// look in `delta` custom messages. Only the nodes a table names are repainted, and only if their
// view changed, so a 2,000-node run stays cheap to watch.

const SVG_NS = "http://www.w3.org/2000/svg";
const NODE_H = 38;
const GAP_X = 30; // between items of a sequence
const GAP_Y = 10; // between stacked members / arms
const PAD = 16; // room for the fork and join lines of a parallel group
const ARM_GAP = 40; // between a branch head and its arms (holds the descriptor label)
const ROW_GAP = 30; // between wrapped rows of a long top-level sequence
const MARGIN = 14;
const MIN_W = 84; // room for the attempts and duration line
const MAX_W = 200;
const CHAR_W = 7;
const COLLAPSE_AT = 12; // parallel groups with more members start collapsed
const GROUP_W = 200;
const GROUP_H = 46;
const STATES = ["pending", "running", "retrying", "succeeded", "failed", "skipped", "cancelled", "cached"];
const DONE = new Set(["succeeded", "failed", "skipped", "cancelled", "cached"]);
const RUN_DONE = new Set(["succeeded", "failed", "cancelled"]);
const BUTTONS = [
  ["rerun_all", "pointy-rerun-all", "Re-run all", () => ({ type: "rerun", mode: "all", node: null })],
  ["rerun_failed", "pointy-rerun-failed", "Re-run failed", () => ({ type: "rerun", mode: "failed", node: null })],
  ["rerun_from", "pointy-rerun-from", "Re-run from selected", (sel) => ({ type: "rerun", mode: "from", node: sel })],
  ["rerun_stale", "pointy-rerun-stale", "Re-run stale", () => ({ type: "rerun", mode: "stale", node: null })],
  ["cancel", "pointy-cancel", "Cancel", () => ({ type: "cancel" })],
];

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function html(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${(seconds - minutes * 60).toFixed(1).padStart(4, "0")}s`;
}

// No spread into Math.max: a 10,000-item sequence would overflow the argument limit.
function maxOf(list, size) {
  return list.reduce((best, item) => Math.max(best, size(item)), 0);
}

// Node ids inside a block, iteratively (a deep tree must not overflow the stack).
function nodeIds(block) {
  const ids = [];
  const stack = [block];
  while (stack.length) {
    const b = stack.pop();
    if (b.kind === "step") ids.push(b.node);
    else if (b.kind === "sequence") for (let i = b.items.length - 1; i >= 0; i--) stack.push(b.items[i]);
    else if (b.kind === "parallel") for (let i = b.members.length - 1; i >= 0; i--) stack.push(b.members[i]);
    else if (b.kind === "branch") {
      for (let i = b.arms.length - 1; i >= 0; i--) stack.push(b.arms[i].body);
      stack.push(b.head);
    }
  }
  return ids;
}

// ---- layout, pass 1: sizes, bottom-up -------------------------------------------------------

function measure(block, expanded) {
  switch (block.kind) {
    case "step": {
      const w = Math.min(MAX_W, Math.max(MIN_W, block.node.length * CHAR_W + 22));
      return { kind: "step", id: block.node, w, h: NODE_H };
    }
    case "sequence": {
      const items = block.items.map((item) => measure(item, expanded));
      const w = items.reduce((sum, item) => sum + item.w, 0) + GAP_X * Math.max(0, items.length - 1);
      const h = maxOf(items, (item) => item.h);
      return { kind: "sequence", items, links: block.links || [], w, h };
    }
    case "parallel": {
      const big = block.members.length > COLLAPSE_AT;
      if (big && !expanded.has(block.group)) {
        return { kind: "collapsed", group: block.group, ids: nodeIds(block), size: block.members.length, w: GROUP_W, h: GROUP_H };
      }
      const members = block.members.map((member) => measure(member, expanded));
      const w = maxOf(members, (m) => m.w) + 2 * PAD;
      const h = members.reduce((sum, m) => sum + m.h, 0) + GAP_Y * (members.length + 1) + (big ? 14 : 0);
      return { kind: "parallel", group: block.group, members, big, w, h };
    }
    case "branch": {
      const head = measure(block.head, expanded);
      const arms = block.arms.map((arm) => ({
        descriptor: arm.descriptor,
        link: arm.link,
        body: measure(arm.body, expanded),
        ids: nodeIds(arm.body),
      }));
      const armsH = arms.reduce((sum, arm) => sum + arm.body.h, 0) + GAP_Y * Math.max(0, arms.length - 1);
      const armsW = maxOf(arms, (arm) => arm.body.w);
      const headStep = block.head.kind === "step" ? block.head.node : null;
      return { kind: "branch", head, arms, headStep, w: head.w + ARM_GAP + armsW + PAD, h: Math.max(head.h, armsH) };
    }
    default:
      return { kind: "empty", w: 0, h: 0 };
  }
}

// ---- layout, pass 2: positions and SVG, top-down --------------------------------------------

function edge(parent, d, link) {
  return svg("path", { d, class: link === "pipe" ? "pointy-edge pointy-link-pipe" : "pointy-edge", "data-link": link || "then" }, parent);
}

function draw(L, x, y, parent, ctx) {
  const cy = y + L.h / 2;
  switch (L.kind) {
    case "step":
      drawStep(L, x, y, parent, ctx);
      break;
    case "sequence": {
      let cx = x;
      L.items.forEach((item, i) => {
        if (i > 0) edge(parent, `M${cx - GAP_X} ${cy}H${cx}`, L.links[i - 1]);
        draw(item, cx, y + (L.h - item.h) / 2, parent, ctx);
        cx += item.w + GAP_X;
      });
      break;
    }
    case "parallel": {
      const frame = svg("rect", { class: "pointy-group", "data-group": L.group, x: x + PAD / 2, y, width: L.w - PAD, height: L.h, rx: 8 }, parent);
      frame.appendChild(svg("title", {})).textContent = `parallel group ${L.group}`;
      let my = y + GAP_Y;
      if (L.big) {
        const toggle = svg("text", { class: "pointy-group-toggle", "data-group": L.group, x: x + PAD / 2 + 6, y: y + 12 }, parent);
        toggle.textContent = `▾ ${L.group} (${L.members.length}) collapse`;
        my += 14;
      }
      const paths = [];
      for (const m of L.members) {
        const mcy = my + m.h / 2;
        paths.push(`M${x} ${cy}H${x + PAD / 2}V${mcy}H${x + PAD}`);
        paths.push(`M${x + PAD + m.w} ${mcy}H${x + L.w - PAD / 2}V${cy}H${x + L.w}`);
        my += m.h + GAP_Y;
      }
      edge(parent, paths.join(""), "then");
      my = y + GAP_Y + (L.big ? 14 : 0);
      for (const m of L.members) {
        draw(m, x + PAD, my, parent, ctx);
        my += m.h + GAP_Y;
      }
      break;
    }
    case "collapsed":
      drawCollapsed(L, x, y, parent, ctx);
      break;
    case "branch": {
      draw(L.head, x, y + (L.h - L.head.h) / 2, parent, ctx);
      const armsH = L.arms.reduce((sum, arm) => sum + arm.body.h, 0) + GAP_Y * Math.max(0, L.arms.length - 1);
      const hx = x + L.head.w;
      const ax = hx + ARM_GAP;
      let ay = y + (L.h - armsH) / 2;
      for (const arm of L.arms) {
        const group = svg("g", { class: "pointy-arm", "data-descriptor": arm.descriptor, "data-arm": "open" }, parent);
        const acy = ay + arm.body.h / 2;
        edge(group, `M${hx} ${cy}H${hx + ARM_GAP / 2}V${acy}H${ax}`, arm.link);
        edge(group, `M${ax + arm.body.w} ${acy}H${x + L.w - PAD / 2}V${cy}H${x + L.w}`, "then");
        const label = svg("text", { class: "pointy-descriptor", x: hx + ARM_GAP / 2 + 4, y: acy - 5 }, group);
        label.textContent = String(arm.descriptor);
        svg("title", {}, label).textContent = `arm ${arm.descriptor}${arm.link === "pipe" ? " (|-> pipes the result)" : ""}`;
        draw(arm.body, ax, ay, group, ctx);
        const info = { g: group, descriptor: arm.descriptor, ids: arm.ids, headStep: L.headStep };
        ctx.arms.push(info);
        for (const id of L.headStep ? [L.headStep, ...arm.ids] : arm.ids) {
          if (!ctx.armsOf.has(id)) ctx.armsOf.set(id, []);
          ctx.armsOf.get(id).push(info);
        }
        ay += arm.body.h + GAP_Y;
      }
      break;
    }
    default:
      break;
  }
}

function arrow(parent, x, cy) {
  svg("path", { class: "pointy-arrow", d: `M${x - 6} ${cy - 4}L${x} ${cy}L${x - 6} ${cy + 4}Z` }, parent);
}

function drawStep(L, x, y, parent, ctx) {
  if (ctx.drawn++ > 0) arrow(parent, x, y + L.h / 2);
  const g = svg("g", { class: "pointy-node", "data-node": L.id, "data-state": "pending", transform: `translate(${x},${y})`, tabindex: 0, role: "button" }, parent);
  svg("rect", { width: L.w, height: L.h, rx: 6 }, g);
  const maxChars = Math.floor((L.w - 12) / CHAR_W);
  const label = svg("text", { class: "pointy-label", x: L.w / 2, y: 16 }, g);
  label.textContent = L.id.length > maxChars ? `${L.id.slice(0, maxChars - 1)}…` : L.id;
  const sub = svg("text", { class: "pointy-sub", x: L.w / 2, y: 30 }, g);
  const title = svg("title", {}, g);
  ctx.nodeEls.set(L.id, { g, sub, title });
}

function drawCollapsed(L, x, y, parent, ctx) {
  if (ctx.drawn++ > 0) arrow(parent, x, y + L.h / 2);
  const g = svg("g", { class: "pointy-group-collapsed", "data-group": L.group, "data-state": "pending", transform: `translate(${x},${y})`, tabindex: 0, role: "button" }, parent);
  svg("rect", { width: L.w, height: L.h, rx: 8 }, g);
  svg("text", { class: "pointy-label", x: L.w / 2, y: 17 }, g).textContent = `${L.group}: ${L.size} in parallel ▸`;
  const counts = svg("text", { class: "pointy-sub", x: L.w / 2, y: 33 }, g);
  const title = svg("title", {}, g);
  ctx.collapsed.set(L.group, { g, counts, title, ids: L.ids });
  for (const id of L.ids) ctx.groupOf.set(id, L.group);
}

// A long top-level sequence is wrapped into rows, joined by a line that returns to the left.
function drawRoot(root, svgEl, ctx, wrapWidth) {
  const layer = svg("g", {}, svgEl);
  if (root.kind !== "sequence" || root.w <= wrapWidth || root.items.length < 2) {
    draw(root, MARGIN, MARGIN, layer, ctx);
    return { w: root.w + 2 * MARGIN, h: root.h + 2 * MARGIN };
  }
  const rows = [];
  let row = null;
  root.items.forEach((item, i) => {
    if (!row || (row.items.length && row.w + GAP_X + item.w > wrapWidth)) {
      row = { items: [], links: [], w: -GAP_X, h: 0, inLink: i > 0 ? root.links[i - 1] : null };
      rows.push(row);
    } else if (row.items.length) row.links.push(root.links[i - 1]);
    row.items.push(item);
    row.w += GAP_X + item.w;
    row.h = Math.max(row.h, item.h);
  });
  let y = MARGIN;
  let width = 0;
  let prev = null;
  for (const r of rows) {
    const layout = { kind: "sequence", items: r.items, links: r.links, w: r.w, h: r.h };
    if (prev) {
      const midY = prev.y + prev.h + ROW_GAP / 2;
      edge(layer, `M${prev.end} ${prev.y + prev.h / 2}h10V${midY}H${MARGIN - 8}V${y + r.h / 2}H${MARGIN}`, r.inLink);
    }
    draw(layout, MARGIN, y, layer, ctx);
    prev = { end: MARGIN + r.w, y, h: r.h };
    width = Math.max(width, r.w);
    y += r.h + ROW_GAP;
  }
  return { w: width + 2 * MARGIN + 12, h: y - ROW_GAP + MARGIN };
}

// ---- painting: only what changed ------------------------------------------------------------

function sameView(a, b) {
  return a.state === b.state && a.attempts === b.attempts && a.duration === b.duration && a.descriptor === b.descriptor;
}

function paintNode(el, id, view, retries) {
  el.g.setAttribute("data-state", view.state);
  el.g.setAttribute("data-attempts", String(view.attempts || 0));
  const parts = [];
  if (view.attempts > 1) parts.push(retries ? `↻${view.attempts}/${retries}` : `↻${view.attempts}`);
  const duration = formatDuration(view.duration);
  if (duration) parts.push(duration);
  el.sub.textContent = parts.join(" · ");
  const tries = view.attempts > 1 ? `${view.attempts} attempts` : "";
  el.title.textContent = [id, view.state, tries, duration].filter(Boolean).join(" · ");
}

function countStates(ids, nodes) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const id of ids) {
    const state = (nodes[id] || {}).state || "pending";
    counts[state] = (counts[state] || 0) + 1;
  }
  return counts;
}

function summaryState(counts, total) {
  for (const state of ["failed", "running", "retrying", "cancelled"]) if (counts[state]) return state;
  for (const state of STATES) if (counts[state] === total) return state;
  return counts.pending ? (counts.pending === total ? "pending" : "running") : "succeeded";
}

function paintGroup(group, nodes) {
  const counts = countStates(group.ids, nodes);
  const text = STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(" · ");
  group.g.setAttribute("data-state", summaryState(counts, group.ids.length));
  group.counts.textContent = text;
  group.title.textContent = `${text} (click to expand)`;
}

// Mirrors snapshot.arm_status (the saved picture): taken / not-taken / open.
function paintArm(arm, nodes) {
  const states = arm.ids.map((id) => (nodes[id] || {}).state || "pending");
  let status = "open";
  const chosen = arm.headStep ? (nodes[arm.headStep] || {}).descriptor : null;
  if (states.some((s) => s !== "pending" && s !== "skipped") || chosen === arm.descriptor) status = "taken";
  else if ((chosen !== null && chosen !== undefined) || (states.length && states.every((s) => s === "skipped"))) status = "not-taken";
  arm.g.setAttribute("data-arm", status);
}

// Views of a node table, merged into `nodes` (an id -> view object); returns the ids.
function mergeTable(nodes, table) {
  const { ids = [], state = [], attempts = [], duration_us: micros = [], descriptor = [] } = table || {};
  for (let i = 0; i < ids.length; i++) {
    const us = micros[i];
    nodes[ids[i]] = {
      state: state[i] || "pending",
      attempts: attempts[i] || 0,
      duration: us === null || us === undefined ? null : us / 1e6,
      descriptor: descriptor[i] === undefined ? null : descriptor[i],
    };
  }
  return ids;
}

function parseJSON(text, name) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    console.warn(`Pointy widget: unreadable ${name}`, error);
    return null;
  }
}

// Repaint the nodes `ids` whose view differs from what `painted` says was drawn, then the
// collapsed groups and branch arms they belong to.
function paint(ctx, nodes, painted, ids) {
  const arms = new Set();
  const groups = new Set();
  for (const id of ids) {
    const view = nodes[id];
    if (!view) continue;
    const before = painted[id];
    if (before && sameView(before, view)) continue;
    painted[id] = view;
    const el = ctx.nodeEls.get(id);
    if (el) paintNode(el, id, view, ctx.retries.get(id));
    const group = ctx.groupOf.get(id);
    if (group !== undefined) groups.add(group);
    for (const arm of ctx.armsOf.get(id) || []) arms.add(arm);
  }
  for (const group of groups) paintGroup(ctx.collapsed.get(group), nodes);
  for (const arm of arms) paintArm(arm, nodes);
}

// ---- the widget -----------------------------------------------------------------------------

function render({ model, el }) {
  const root = html("div", "pointy-widget", el);
  const bar = html("div", "pointy-toolbar", root);
  const status = html("div", "pointy-status", bar);
  const statusText = html("span", "pointy-status-text", status);
  const message = html("span", "pointy-message", status);
  const buttons = html("div", "pointy-buttons", bar);
  const buttonEls = new Map();
  for (const [key, className, label, makeCommand] of BUTTONS) {
    const button = html("button", `pointy-button ${className}`, buttons, label);
    button.type = "button";
    button.disabled = true;
    button.addEventListener("click", () => model.send(makeCommand(model.get("selected"))));
    buttonEls.set(key, button);
  }
  const legend = html("div", "pointy-legend", root);
  for (const state of STATES) {
    const item = html("span", "pointy-legend-item", legend, state);
    item.dataset.state = state;
  }
  html("span", "pointy-legend-item pointy-legend-stale", legend, "stale").dataset.stale = "true";
  const canvas = html("div", "pointy-canvas", root);
  const detail = html("div", "pointy-detail", root);

  // What this view shows: the last full table, with the deltas since merged in. The status,
  // message and detail come from their traits or, while a run goes on, from the deltas;
  // whichever arrived last wins (the kernel sends both in order).
  const live = { graph: {}, nodes: {}, status: "pending", message: "", detail: {} };
  const expanded = new Set();
  let ctx = null;
  let painted = {};
  let selectedEl = null;

  function readTable() {
    live.nodes = {};
    const table = parseJSON(model.get("nodes_json"), "nodes_json");
    if (table) mergeTable(live.nodes, table);
  }

  function build() {
    canvas.replaceChildren();
    ctx = { nodeEls: new Map(), collapsed: new Map(), groupOf: new Map(), arms: [], armsOf: new Map(), retries: new Map(), drawn: 0 };
    selectedEl = null;
    painted = {};
    const graph = live.graph;
    for (const node of graph.nodes || []) if (node.retry) ctx.retries.set(node.id, node.retry);
    if (!graph.root) {
      html("div", "pointy-empty", canvas, "No run yet.");
      paintStatus();
      return;
    }
    const layout = measure(graph.root, expanded);
    const svgEl = svg("svg", { class: "pointy-graph" });
    const wrapWidth = Math.max(480, (el.clientWidth || 1040) - 2 * MARGIN);
    const size = drawRoot(layout, svgEl, ctx, wrapWidth);
    svgEl.setAttribute("width", size.w);
    svgEl.setAttribute("height", size.h);
    svgEl.setAttribute("viewBox", `0 0 ${size.w} ${size.h}`);
    canvas.appendChild(svgEl);
    paint(ctx, live.nodes, painted, Object.keys(live.nodes));
    for (const group of ctx.collapsed.values()) paintGroup(group, live.nodes); // also those with no view yet
    for (const arm of ctx.arms) paintArm(arm, live.nodes);
    paintSelected();
    paintStale();
    paintStatus();
  }

  function onTable() {
    readTable();
    if (ctx) paint(ctx, live.nodes, painted, Object.keys(live.nodes));
    paintStatus();
  }

  function onDelta(content) {
    if (!content || content.type !== "delta" || content.run !== model.get("run_id")) return;
    const ids = mergeTable(live.nodes, content.nodes);
    if (content.status !== undefined) live.status = content.status;
    if (content.message !== undefined) live.message = content.message;
    if (ctx) paint(ctx, live.nodes, painted, ids);
    paintStatus();
    if (content.detail !== undefined) {
      live.detail = content.detail;
      paintDetail();
    }
  }

  function paintStatus() {
    const state = live.status || "pending";
    const views = Object.values(live.nodes);
    let done = 0;
    let failed = 0;
    for (const view of views) {
      if (DONE.has(view.state)) done++;
      if (view.state === "failed") failed++;
    }
    const run = model.get("run_id");
    status.dataset.status = state;
    root.dataset.status = state;
    statusText.textContent = run
      ? `Run ${run} · ${state} · ${done}/${views.length} done${failed ? ` · ${failed} failed` : ""}`
      : `Plan · ${views.length} node${views.length === 1 ? "" : "s"} · nothing runs`;
    message.textContent = live.message || "";
  }

  function paintControls() {
    const controls = model.get("controls") || {};
    for (const [key, button] of buttonEls) button.disabled = !controls[key];
  }

  function paintStale() {
    // A node whose event a later cell redefined (and its downstream): an outline, over its state.
    if (!ctx) return;
    const stale = new Set(model.get("stale") || []);
    for (const [id, el] of ctx.nodeEls) {
      if (stale.has(id)) el.g.setAttribute("data-stale", "true");
      else el.g.removeAttribute("data-stale");
    }
  }

  function paintSelected() {
    if (selectedEl) selectedEl.removeAttribute("data-selected");
    const el = ctx && ctx.nodeEls.get(model.get("selected"));
    selectedEl = el ? el.g : null;
    if (selectedEl) selectedEl.setAttribute("data-selected", "true");
  }

  function section(title, text, className, pre) {
    if (text === null || text === undefined || text === "") return;
    html("div", "pointy-detail-title", detail, title);
    html(pre ? "pre" : "div", className, detail, String(text));
  }

  function paintDetail() {
    const d = live.detail || {};
    detail.replaceChildren();
    if (!d.node) {
      detail.dataset.node = "";
      html("div", "pointy-hint", detail, "Click a node to see its value, error and output.");
      return;
    }
    detail.dataset.node = d.node;
    const head = html("div", "pointy-detail-head", detail);
    html("strong", "", head, d.node);
    const badge = html("span", "pointy-badge", head, d.state);
    badge.dataset.state = d.state;
    const facts = [];
    if (d.attempts) facts.push(`${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`);
    if (d.duration !== null && d.duration !== undefined) facts.push(formatDuration(d.duration));
    if (d.descriptor !== null && d.descriptor !== undefined) facts.push(`descriptor ${d.descriptor}`);
    if (d.worker) facts.push(d.worker);
    html("span", "pointy-facts", head, facts.join(" · "));
    section("Value", d.value, "pointy-value", true);
    section("Error", d.error, "pointy-error", false);
    section("Traceback", d.traceback, "pointy-traceback", true);
    section("Output", d.output, "pointy-output", true);
  }

  function target(event) {
    const node = event.target.closest("g.pointy-node");
    if (node) return () => {
      const id = node.getAttribute("data-node");
      if (selectedEl) selectedEl.removeAttribute("data-selected");
      selectedEl = node; // show the choice at once; `selected` and `detail` follow from Python
      node.setAttribute("data-selected", "true");
      model.send({ type: "select", node: id });
    };
    const group = event.target.closest(".pointy-group-collapsed, .pointy-group-toggle");
    if (group) return () => {
      const id = group.getAttribute("data-group");
      if (expanded.has(id)) expanded.delete(id);
      else expanded.add(id);
      build();
    };
    return null;
  }

  const onClick = (event) => {
    const action = target(event);
    if (action) action();
  };
  const onKey = (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const action = target(event);
    if (action) {
      event.preventDefault();
      action();
    }
  };
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("keydown", onKey);

  const handlers = [
    ["change:graph_json", () => {
      live.graph = parseJSON(model.get("graph_json"), "graph_json") || {};
      readTable();
      build();
    }],
    ["change:nodes_json", onTable],
    ["change:status", () => {
      live.status = model.get("status");
      paintStatus();
    }],
    ["change:message", () => {
      live.message = model.get("message");
      paintStatus();
    }],
    ["change:run_id", paintStatus],
    ["change:controls", paintControls],
    ["change:selected", paintSelected],
    ["change:stale", paintStale],
    ["change:detail", () => {
      live.detail = model.get("detail");
      paintDetail();
    }],
    ["msg:custom", onDelta],
  ];
  for (const [name, handler] of handlers) model.on(name, handler);

  live.graph = parseJSON(model.get("graph_json"), "graph_json") || {};
  live.status = model.get("status") || "pending";
  live.message = model.get("message") || "";
  live.detail = model.get("detail") || {};
  readTable();
  build();
  paintControls();
  paintDetail();
  // The traits may be a moment old while a run goes on: ask for the full state at the next look.
  if (model.get("run_id") && !RUN_DONE.has(live.status)) model.send({ type: "hello" });

  return () => {
    for (const [name, handler] of handlers) model.off(name, handler);
    canvas.removeEventListener("click", onClick);
    canvas.removeEventListener("keydown", onKey);
  };
}

export default { render };
