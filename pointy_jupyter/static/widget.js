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
const HTML_NS = "http://www.w3.org/1999/xhtml";
const NODE_H = 38;
const GAP_X = 30; // between items of a sequence
const GAP_Y = 10; // between stacked members / arms
const PAD = 16; // room for the fork and join lines of a parallel group
const ARM_GAP = 40; // between a branch head and its arms (holds the descriptor label)
const ROW_GAP = 30; // between wrapped rows of a long top-level sequence
const MARGIN = 14;
const MIN_W = 84; // room for the attempts and duration line
const MAX_W = 220;
const LABEL_PAD = 12; // each side of a label inside its box
const LABEL_FONT = "600 12px"; // .pointy-label: boxes are sized from this font as rendered
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

const MAX_CANVAS_H = 1000; // taller graphs scroll inside the widget
const EDGE_LEGEND = [
  ["then", "then (->)"],
  ["pipe", "pipe (|->)"],
  ["taken", "arm taken"],
  ["not-taken", "arm not taken"],
];
const ZOOM_BUTTONS = [
  ["fit", "Fit width", "Fit the graph to the widget's width"],
  ["out", "−", "Zoom out (Ctrl/⌘ + wheel)"],
  ["in", "+", "Zoom in (Ctrl/⌘ + wheel)"],
  ["reset", "100%", "Actual size"],
  ["svg", "Save picture", "Save the graph with its current states as SVG"],
  ["png", "PNG", "Save the graph with its current states as PNG"],
];
const PICTURE_STYLE = ["fill", "stroke", "stroke-width", "stroke-dasharray", "opacity", "font-family", "font-size", "font-weight", "text-anchor", "text-decoration"];
const ARROWS = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] };

// What an arm's descriptor means, in the user's words (SPEC 2.4).
function armWords(descriptor) {
  if (descriptor === 0) return "failure";
  if (descriptor === 1) return "success";
  return "chosen by the event";
}

function armText(descriptor) {
  return `arm ${descriptor} (${armWords(descriptor)})`;
}

// One notation for attempts wherever a run is shown (box, tooltip, details, saved snapshot,
// text progress): ↻2/3 is the second of at most three attempts.
function attemptsText(attempts, retries) {
  return retries ? `↻${attempts}/${retries}` : `↻${attempts}`;
}

// Where a node ran, in words: the engine reports a thread's name, "pid:1234" for a worker
// process, or a Dask worker's address.
function ranWhere(worker) {
  const text = String(worker);
  if (text === "MainThread") return "ran in the kernel";
  const pid = /^pid:(\d+)$/.exec(text);
  if (pid) return `ran in process ${pid[1]}`;
  if (/^(tcp|tls|inproc|ucx):\/\//.test(text)) return `ran on Dask worker ${text}`;
  return `ran on a thread (${text})`;
}

// Stale is a striped outline (diagonal bands of the stale colour and the background), so it
// never reads as the dashed pipe edge. The pattern's id is unique per drawing: several widgets
// share one page, and `url(#id)` resolves document-wide.
let stripesDrawn = 0;
function addStaleStripes(svgEl) {
  const id = `pointy-stale-stripes-${++stripesDrawn}`;
  const defs = svg("defs", {}, svgEl);
  const pattern = svg("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
  svg("rect", { class: "pointy-stale-band", width: 3, height: 6 }, pattern);
  svg("rect", { class: "pointy-stale-gap", x: 3, width: 3, height: 6 }, pattern);
  svgEl.style.setProperty("--pointy-stale-stroke", `url(#${id})`);
}

// A standalone copy of the graph SVG: computed styles inlined, so it looks the same anywhere.
function pictureSVG(svgEl) {
  const copy = svgEl.cloneNode(true);
  const from = [svgEl, ...svgEl.querySelectorAll("*")];
  const to = [copy, ...copy.querySelectorAll("*")];
  from.forEach((source, i) => {
    const style = getComputedStyle(source);
    const target = to[i];
    target.removeAttribute("class");
    target.removeAttribute("tabindex");
    target.setAttribute("style", PICTURE_STYLE.map((name) => `${name}:${style.getPropertyValue(name)}`).join(";"));
  });
  for (const host of copy.querySelectorAll("foreignObject")) {
    const x = Number(host.getAttribute("x")) + Number(host.getAttribute("width")) / 2;
    const y = Number(host.getAttribute("y")) + Math.min(12, Number(host.getAttribute("height")) / 2 + 4);
    const words = [...host.querySelectorAll("span")].map((line) => line.textContent).filter(Boolean);
    const text = svg("text", { x, y, style: "text-anchor:middle;font-size:11px;font-family:sans-serif" });
    text.textContent = words.join(" · ");
    host.replaceWith(text);
  }
  copy.setAttribute("xmlns", SVG_NS);
  const background = getComputedStyle(svgEl.closest(".pointy-widget")).backgroundColor;
  const bg = document.createElementNS(SVG_NS, "rect");
  for (const [k, v] of Object.entries({ width: "100%", height: "100%", fill: background })) bg.setAttribute(k, v);
  copy.insertBefore(bg, copy.firstChild);
  copy.setAttribute("width", svgEl.viewBox.baseVal.width);
  copy.setAttribute("height", svgEl.viewBox.baseVal.height);
  return new XMLSerializer().serializeToString(copy);
}

function download(name, blob) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function savePicture(svgEl, name, format) {
  const text = pictureSVG(svgEl);
  const svgBlob = new Blob([text], { type: "image/svg+xml" });
  if (format === "svg") return download(`${name}.svg`, svgBlob);
  const image = new Image();
  const url = URL.createObjectURL(svgBlob);
  image.onload = () => {
    const scale = 2; // crisp in reports
    const canvas = document.createElement("canvas");
    canvas.width = image.width * scale;
    canvas.height = image.height * scale;
    const context = canvas.getContext("2d");
    context.scale(scale, scale);
    context.drawImage(image, 0, 0);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => download(`${name}.png`, blob), "image/png");
  };
  image.src = url;
}

function formatElapsed(ms) {
  const seconds = Math.max(0, Math.floor(Math.round(ms) / 1000)); // whole ms first: 73999.9999 is 74 s
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
}

// The node nearest to `id` in the direction `[dx, dy]`: mostly along that axis, a little across.
function neighbour(ctx, id, [dx, dy]) {
  const from = ctx.nodeEls.get(id);
  if (!from) return null;
  const cx = from.x + from.w / 2;
  const cy = from.y + from.h / 2;
  let best = null;
  let bestScore = Infinity;
  for (const el of ctx.nodeEls.values()) {
    if (el === from) continue;
    const ex = el.x + el.w / 2 - cx;
    const ey = el.y + el.h / 2 - cy;
    const along = ex * dx + ey * dy;
    if (along <= 1) continue;
    const across = Math.abs(ex * dy) + Math.abs(ey * dx);
    const score = along + 3 * across;
    if (score < bestScore) {
      best = el;
      bestScore = score;
    }
  }
  return best;
}

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

// Label widths come from the font the label is drawn in (a canvas measures without layout, so
// 2,000 labels cost little); a label wider than the widest box is elided with an ellipsis.
function labelMeter(fontFamily) {
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${LABEL_FONT} ${fontFamily}`;
  const cache = new Map();
  const width = (text) => {
    let w = cache.get(text);
    if (w === undefined) {
      w = context.measureText(text).width;
      cache.set(text, w);
    }
    return w;
  };
  return (text) => {
    const room = MAX_W - 2 * LABEL_PAD;
    if (width(text) <= room) return { text, w: width(text) };
    const chars = Array.from(text); // wide and astral characters stay whole
    let lo = 0;
    let hi = chars.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (width(`${chars.slice(0, mid).join("")}…`) <= room) lo = mid;
      else hi = mid - 1;
    }
    const shown = `${chars.slice(0, lo).join("")}…`;
    return { text: shown, w: width(shown) };
  };
}

// ---- layout, pass 1: sizes, bottom-up -------------------------------------------------------

function measure(block, expanded, meter) {
  switch (block.kind) {
    case "step": {
      const label = meter(block.node);
      const w = Math.min(MAX_W, Math.max(MIN_W, Math.ceil(label.w) + 2 * LABEL_PAD));
      return { kind: "step", id: block.node, label: label.text, w, h: NODE_H };
    }
    case "sequence": {
      const items = block.items.map((item) => measure(item, expanded, meter));
      const w = items.reduce((sum, item) => sum + item.w, 0) + GAP_X * Math.max(0, items.length - 1);
      const h = maxOf(items, (item) => item.h);
      return { kind: "sequence", items, links: block.links || [], w, h };
    }
    case "parallel": {
      const big = block.members.length > COLLAPSE_AT;
      if (big && !expanded.has(block.group)) {
        return { kind: "collapsed", group: block.group, ids: nodeIds(block), size: block.members.length, w: GROUP_W, h: GROUP_H };
      }
      const members = block.members.map((member) => measure(member, expanded, meter));
      // a large group is at least as wide as its collapse toggle's words
      const toggle = big ? Math.ceil(meter(toggleWords(block.members.length)).w) + 12 : 0;
      const w = Math.max(maxOf(members, (m) => m.w), toggle) + 2 * PAD;
      const h = members.reduce((sum, m) => sum + m.h, 0) + GAP_Y * (members.length + 1) + (big ? 14 : 0);
      return { kind: "parallel", group: block.group, members, big, w, h };
    }
    case "branch": {
      const head = measure(block.head, expanded, meter);
      const arms = block.arms.map((arm) => ({
        descriptor: arm.descriptor,
        link: arm.link,
        body: measure(arm.body, expanded, meter),
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

// `follows`: something comes after this block, so its arms and members join into one line.
function draw(L, x, y, parent, ctx, follows) {
  const cy = y + L.h / 2;
  switch (L.kind) {
    case "step":
      drawStep(L, x, y, parent, ctx);
      break;
    case "sequence": {
      let cx = x;
      L.items.forEach((item, i) => {
        if (i > 0) sequenceLink(parent, `M${cx - GAP_X} ${cy}H${cx}`, L.links[i - 1], ctx);
        draw(item, cx, y + (L.h - item.h) / 2, parent, ctx, follows || i < L.items.length - 1);
        cx += item.w + GAP_X;
      });
      break;
    }
    case "parallel": {
      const frame = svg("rect", { class: "pointy-group", "data-group": L.group, x: x + PAD / 2, y, width: L.w - PAD, height: L.h, rx: 8 }, parent);
      frame.appendChild(svg("title", {})).textContent = `${L.members.length} in parallel`;
      let my = y + GAP_Y;
      if (L.big) {
        const host = svg("foreignObject", { class: "pointy-toggle-host", x: x + PAD / 2 + 2, y: y + 1, width: L.w - PAD - 4, height: 16 }, parent);
        toggleButton(host, L.group, true, [toggleWords(L.members.length)]);
        my += 14;
      }
      const paths = [];
      for (const m of L.members) {
        const mcy = my + m.h / 2;
        paths.push(`M${x} ${cy}H${x + PAD / 2}V${mcy}H${x + PAD}`);
        if (follows) paths.push(`M${x + PAD + m.w} ${mcy}H${x + L.w - PAD / 2}V${cy}H${x + L.w}`);
        my += m.h + GAP_Y;
      }
      edge(parent, paths.join(""), "then");
      my = y + GAP_Y + (L.big ? 14 : 0);
      for (const m of L.members) {
        draw(m, x + PAD, my, parent, ctx, false);
        my += m.h + GAP_Y;
      }
      break;
    }
    case "collapsed":
      drawCollapsed(L, x, y, parent, ctx);
      break;
    case "branch": {
      draw(L.head, x, y + (L.h - L.head.h) / 2, parent, ctx, true);
      const armsH = L.arms.reduce((sum, arm) => sum + arm.body.h, 0) + GAP_Y * Math.max(0, L.arms.length - 1);
      const hx = x + L.head.w;
      const ax = hx + ARM_GAP;
      let ay = y + (L.h - armsH) / 2;
      for (const arm of L.arms) {
        const group = svg("g", { class: "pointy-arm", "data-descriptor": arm.descriptor, "data-arm": "open" }, parent);
        const acy = ay + arm.body.h / 2;
        edge(group, `M${hx} ${cy}H${hx + ARM_GAP / 2}V${acy}H${ax}`, arm.link);
        if (follows) edge(group, `M${ax + arm.body.w} ${acy}H${x + L.w - PAD / 2}V${cy}H${x + L.w}`, "then");
        const label = svg("text", { class: "pointy-descriptor", x: hx + ARM_GAP / 2 + 4, y: acy - 5 }, group);
        label.textContent = String(arm.descriptor);
        svg("title", {}, label).textContent = `${armText(arm.descriptor)}${arm.link === "pipe" ? ", |-> pipes the result" : ""}`;
        draw(arm.body, ax, ay, group, ctx, false);
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

// Arrow heads are gathered per parent element and drawn as one path each (see drawArrows): two
// thousand small paths cost the first frame more than their drawing is worth.
function arrow(parent, x, cy, ctx) {
  let heads = ctx.arrows.get(parent);
  if (!heads) ctx.arrows.set(parent, (heads = []));
  heads.push(`M${x - 6} ${cy - 4}L${x} ${cy}L${x - 6} ${cy + 4}Z`);
}

function drawArrows(ctx) {
  for (const [parent, heads] of ctx.arrows) {
    parent.insertBefore(svg("path", { class: "pointy-arrow", d: heads.join("") }), parent.firstChild);
  }
  ctx.arrows.clear();
  for (const [parent, byLink] of ctx.links || []) {
    for (const [link, parts] of byLink) parent.insertBefore(edge(null, parts.join(""), link), parent.firstChild);
  }
}

// The link between two items of a sequence. In a long flow wrapped into rows (ctx.links is
// set), the links of one kind under one parent become one path, as the arrow heads do.
function sequenceLink(parent, d, link, ctx) {
  if (!ctx.links) {
    edge(parent, d, link);
    return;
  }
  let byLink = ctx.links.get(parent);
  if (!byLink) ctx.links.set(parent, (byLink = new Map()));
  const key = link || "then";
  if (!byLink.has(key)) byLink.set(key, []);
  byLink.get(key).push(d);
}

// One node's elements, cloned from a template: cheaper than making each element and attribute.
function nodeTemplate(plan) {
  // Placeholders keep the attributes in their usual order (a saved picture reads the same).
  const g = svg("g", { class: "pointy-node", "data-node": "", "data-state": "pending", transform: "", tabindex: 0, role: "button" });
  svg("rect", { width: 0, height: NODE_H, rx: 6 }, g);
  svg("text", { class: "pointy-label", x: 0, y: plan ? 23 : 16 }, g); // a plan has no second line
  return g;
}

function drawStep(L, x, y, parent, ctx) {
  if (ctx.drawn++ > 0) arrow(parent, x, y + L.h / 2, ctx);
  const g = ctx.nodeTemplate.cloneNode(true);
  g.setAttribute("data-node", L.id);
  g.setAttribute("transform", `translate(${x},${y})`);
  g.firstChild.setAttribute("width", L.w);
  const label = g.lastChild;
  label.setAttribute("x", L.w / 2);
  label.textContent = L.label;
  if (L.label !== L.id) g.setAttribute("data-elided", "true");
  parent.appendChild(g);
  // The second line is made when it first has something to say: an empty text element still
  // costs its share of the first frame's layout.
  ctx.nodeEls.set(L.id, { g, label, sub: null, x, y, w: L.w, h: L.h });
}

function setSub(el, text) {
  if (el.sub === null) {
    if (!text) return;
    el.sub = svg("text", { class: "pointy-sub", x: el.w / 2, y: 30 }, el.g);
  }
  el.sub.textContent = text;
}

function toggleWords(size) {
  return `▾ ${size} in parallel · collapse`;
}

// The expand / collapse toggle of a large parallel group: a real HTML <button> (focusable, Enter
// and Space, a focus ring, announced as a button) inside the SVG.
function toggleButton(host, group, expanded, lines) {
  const button = document.createElementNS(HTML_NS, "button");
  button.className = "pointy-group-toggle";
  button.type = "button";
  button.dataset.group = group;
  button.setAttribute("aria-expanded", String(expanded));
  lines.forEach((text, i) => {
    const line = document.createElementNS(HTML_NS, "span");
    line.className = i ? "pointy-sub" : "pointy-label";
    line.textContent = text;
    button.appendChild(line);
  });
  host.appendChild(button);
  return button;
}

function drawCollapsed(L, x, y, parent, ctx) {
  if (ctx.drawn++ > 0) arrow(parent, x, y + L.h / 2, ctx);
  const g = svg("g", { class: "pointy-group-collapsed", "data-group": L.group, "data-state": "pending", transform: `translate(${x},${y})` }, parent);
  svg("rect", { width: L.w, height: L.h, rx: 8 }, g);
  const host = svg("foreignObject", { class: "pointy-toggle-host", x: 0, y: 0, width: L.w, height: L.h }, g);
  const button = toggleButton(host, L.group, false, [`${L.size} in parallel ▸`, ""]);
  const counts = button.lastChild;
  const title = button;
  ctx.collapsed.set(L.group, { g, counts, title, ids: L.ids });
  for (const id of L.ids) ctx.groupOf.set(id, L.group);
}

// A long top-level sequence is wrapped into rows, joined by a line that returns to the left.
function drawRoot(root, svgEl, ctx, wrapWidth) {
  const layer = svg("g", {}, svgEl);
  if (root.kind !== "sequence" || root.w <= wrapWidth || root.items.length < 2) {
    draw(root, MARGIN, MARGIN, layer, ctx, false);
    drawArrows(ctx);
    return { w: root.w + 2 * MARGIN, h: root.h + 2 * MARGIN };
  }
  ctx.links = new Map();
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
    draw(layout, MARGIN, y, layer, ctx, r !== rows[rows.length - 1]);
    prev = { end: MARGIN + r.w, y, h: r.h };
    width = Math.max(width, r.w);
    y += r.h + ROW_GAP;
  }
  drawArrows(ctx);
  ctx.links = null;
  return { w: width + 2 * MARGIN + 12, h: y - ROW_GAP + MARGIN };
}

// ---- painting: only what changed ------------------------------------------------------------

function sameView(a, b) {
  return a.state === b.state && a.attempts === b.attempts && a.duration === b.duration && a.descriptor === b.descriptor;
}

// `elapsed`: seconds the node has been running (null when it is not running).
function subText(view, retries, elapsed) {
  const parts = [];
  if (view.attempts > 1) parts.push(attemptsText(view.attempts, retries));
  const time = elapsed !== null ? formatElapsed(elapsed * 1000) : formatDuration(view.duration);
  if (time) parts.push(time);
  return parts.join(" · ");
}

function paintNode(el, id, view, retries, elapsed) {
  el.g.setAttribute("data-state", view.state);
  el.g.setAttribute("data-attempts", String(view.attempts || 0));
  setSub(el, subText(view, retries, elapsed));
  el.g.setAttribute("aria-label", `${id}, ${view.state}`);
}

// What the hover tooltip says about a node: full name, state, attempts, duration (a running
// node: the time its current attempt has run, as its box says), stale, first error line.
function tooltipLines(id, view, error, retries, elapsed, stale) {
  const facts = [view.state];
  if (view.attempts > 1) facts.push(attemptsText(view.attempts, retries));
  const duration = elapsed !== null ? formatElapsed(elapsed * 1000) : formatDuration(view.duration);
  if (duration) facts.push(duration);
  if (stale) facts.push("stale"); // as the legend says it
  const lines = [id, facts.join(" · ")];
  if (error) lines.push(String(error).split("\n")[0]);
  return lines;
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
  const text = STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(", ");
  group.g.setAttribute("data-state", summaryState(counts, group.ids.length));
  group.counts.textContent = text;
  group.title.title = `${group.ids.length} in parallel · ${text} (click to expand)`;
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
// `started` is the kernel's clock (epoch seconds) when the node first started.
function mergeTable(nodes, table) {
  const { ids = [], state = [], attempts = [], duration_us: micros = [], descriptor = [], started = [], error = [] } = table || {};
  for (let i = 0; i < ids.length; i++) {
    const us = micros[i];
    nodes[ids[i]] = {
      state: state[i] || "pending",
      attempts: attempts[i] || 0,
      duration: us === null || us === undefined ? null : us / 1e6,
      descriptor: descriptor[i] === undefined ? null : descriptor[i],
      started: typeof started[i] === "number" ? started[i] : null,
      error: typeof error[i] === "string" ? error[i] : null, // first line, for the tooltip
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
    if (el) paintNode(el, id, view, ctx.retries.get(id), ctx.elapsed(id, view));
    const group = ctx.groupOf.get(id);
    if (group !== undefined) groups.add(group);
    for (const arm of ctx.armsOf.get(id) || []) arms.add(arm);
  }
  for (const group of groups) paintGroup(ctx.collapsed.get(group), nodes);
  for (const arm of arms) paintArm(arm, nodes);
}

// ---- the timeline tab -----------------------------------------------------------------------
//
// Drawn from `timeline_layout` (pointy_engine/telemetry/timeline.py), which the kernel sends in
// the `timeline_json` trait while this tab is shown: one lane per worker, a bar per attempt, a
// dashed line for each retry wait, the critical path outlined. Running bars grow here, between
// two layouts, from the time the layout was received.

const LANE_H = 26;
const LANE_LABEL = 190; // room for the lane names at the left
const AXIS_H = 22;
const BAR_FONT = "600 11px";
const CACHE_LANE = "cache (not run)"; // the static timeline's name for it (timeline_figure.py)

// A lane's name: where its attempts ran, as the details pane says it ("thread pointy-worker-0").
function laneName(worker) {
  return ranWhere(worker).replace(/^ran (in|on) (the |a )?/, "").replace(/^thread \((.*)\)$/, "thread $1");
}

// A tick step of 1, 2 or 5 times a power of ten, about every 110 px.
function tickStep(span, pixels) {
  const raw = (span * 110) / Math.max(pixels, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (power * factor >= raw) return power * factor;
  return power * 10;
}

function formatTick(seconds, step) {
  if (step < 1) {
    const digits = Math.max(0, -Math.floor(Math.log10(step * 1000) + 1e-9)); // 0.2 ms steps: 1
    return `${(seconds * 1000).toFixed(digits)} ms`;
  }
  if (seconds < 60) return `${Math.round(seconds)} s`;
  return formatElapsed(seconds * 1000);
}

function timelineView(host, fontFamily) {
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${BAR_FONT} ${fontFamily}`;
  let layout = null;
  let received = 0;

  function hasSteps() {
    return Boolean(layout && (layout.bars.length || (layout.cached && layout.cached.length)));
  }

  function running() {
    return layout ? layout.bars.some((bar) => bar.state === "running") : false;
  }

  function draw() {
    host.replaceChildren();
    if (!hasSteps()) {
      html("div", "pointy-empty", host, "Nothing has run yet: the timeline fills in as nodes start.");
      return;
    }
    const grow = running() ? Math.max(0, Date.now() / 1000 - received) : 0;
    const end = (bar) => (bar.state === "running" ? bar.end + grow : bar.end);
    const span = Math.max(layout.end + grow, maxOf(layout.bars, end), maxOf(layout.cached || [], (hit) => hit.at), 1e-3);
    const width = Math.max(480, host.clientWidth || 1040);
    const plot = width - LANE_LABEL - 16;
    const xOf = (seconds) => LANE_LABEL + (plot * seconds) / span;
    const cached = layout.cached || [];
    // Cache hits ran nowhere: they get a lane of their own, as in the static timeline.
    const laneNames = cached.length ? [...layout.lanes, CACHE_LANE] : layout.lanes;
    const lanes = laneNames.length || 1;
    const height = AXIS_H + LANE_H * lanes + 8;
    const root = svg("svg", { class: "pointy-timeline-svg", width, height, viewBox: `0 0 ${width} ${height}` }, host);
    const step = tickStep(span, plot);
    for (let t = 0; t <= span + 1e-9; t += step) {
      svg("line", { class: "pointy-tick", x1: xOf(t), x2: xOf(t), y1: AXIS_H - 4, y2: height - 4 }, root);
      svg("text", { class: "pointy-tick-label", x: xOf(t), y: AXIS_H - 8 }, root).textContent = formatTick(t, step);
    }
    laneNames.forEach((worker, i) => {
      const y = AXIS_H + i * LANE_H;
      const lane = svg("rect", { class: "pointy-lane", "data-lane": i, x: 0, y, width, height: LANE_H }, root);
      svg("title", {}, lane).textContent = String(worker);
      const label = i < layout.lanes.length ? laneName(worker) : worker;
      svg("text", { class: "pointy-lane-label", x: 6, y: y + LANE_H / 2 + 4 }, root).textContent = label;
    });
    cached.forEach((hit) => {
      // A mark where the step settled, its event's name beside it.
      const x = Math.min(xOf(hit.at), width - 12);
      const y = AXIS_H + layout.lanes.length * LANE_H + 3;
      const g = svg("g", { class: "pointy-cache-hit", "data-node": hit.node, "data-state": "cached" }, root);
      svg("rect", { x, y, width: 8, height: LANE_H - 6, rx: 2 }, g);
      const text = svg("text", { class: "pointy-bar-label", x: x + 12, y: y + (LANE_H - 6) / 2 + 1 }, g);
      text.textContent = hit.event;
      const took = hit.original_duration == null ? "" : ` · took ${formatDuration(hit.original_duration)} when it ran`;
      svg("title", {}, g).textContent = `${hit.node} · from the cache, not run${took}`;
    });
    for (const wait of layout.waits) {
      const y = AXIS_H + wait.lane * LANE_H + LANE_H / 2;
      const line = svg("line", { class: "pointy-wait", "data-node": wait.node, x1: xOf(wait.start), x2: xOf(wait.end), y1: y, y2: y }, root);
      svg("title", {}, line).textContent = `${wait.node}: waited ${formatDuration(wait.delay)} before retrying`;
    }
    const critical = new Set(layout.critical_path || []);
    for (const bar of layout.bars) {
      const x = xOf(bar.start);
      const w = Math.max(2, xOf(end(bar)) - x);
      const y = AXIS_H + bar.lane * LANE_H + 3;
      const g = svg("g", { class: "pointy-bar", "data-node": bar.node, "data-state": bar.state, "data-attempt": bar.attempt }, root);
      if (critical.has(bar.node)) g.setAttribute("data-critical", "true");
      svg("rect", { x, y, width: w, height: LANE_H - 6, rx: 3 }, g);
      const name = bar.attempt > 1 ? `${bar.node} ${attemptsText(bar.attempt)}` : bar.node;
      if (context.measureText(name).width + 8 <= w) {
        svg("text", { class: "pointy-bar-label", x: x + 4, y: y + (LANE_H - 6) / 2 + 1 }, g).textContent = name;
      }
      const facts = [`${bar.node}`, `attempt ${bar.attempt}`, bar.state, formatDuration(end(bar) - bar.start)];
      if (critical.has(bar.node)) facts.push("on the critical path");
      svg("title", {}, g).textContent = facts.join(" · ") + (bar.error ? `\n${bar.error}` : "");
    }
  }

  function caption() {
    if (hasSteps()) html("div", "pointy-timeline-key", host, `A bar per attempt, a lane per worker · dashed line: the wait before a retry · outlined: the critical path${layout.cached && layout.cached.length ? " · a small mark: a step taken from the cache" : ""}`);
  }

  return {
    show(next) {
      layout = next;
      received = Date.now() / 1000;
      draw();
      caption();
    },
    tick() {
      if (!running()) return;
      draw();
      caption();
    },
  };
}

// ---- the widget -----------------------------------------------------------------------------

function render({ model, el }) {
  const root = html("div", "pointy-widget", el);
  const bar = html("div", "pointy-toolbar", root);
  const status = html("div", "pointy-status", bar);
  const statusText = html("span", "pointy-status-text", status);
  const message = html("span", "pointy-message", status);
  // The Dask dashboard of the run's cluster, shown only when the kernel names one.
  const dashboard = html("a", "pointy-dashboard", bar, "Dask dashboard");
  dashboard.target = "_blank";
  dashboard.rel = "noopener noreferrer";
  const paintDashboard = () => {
    const link = model.get("dashboard") || "";
    dashboard.hidden = !link;
    if (link) {
      dashboard.href = link;
      dashboard.title = `Dask dashboard: ${link}`;
    } else dashboard.removeAttribute("href");
  };
  paintDashboard();
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
  const stateLegend = html("div", "pointy-legend-states", legend);
  for (const state of STATES) {
    const item = html("span", "pointy-legend-item", stateLegend, state);
    item.dataset.state = state;
  }
  html("span", "pointy-legend-item pointy-legend-stale", stateLegend, "stale").dataset.stale =
    "true";
  const edgeLegend = html("div", "pointy-legend-edges", legend);
  for (const [kind, words] of EDGE_LEGEND) {
    const item = html("span", "pointy-legend-edge", edgeLegend);
    item.dataset.edge = kind;
    const sample = svg("svg", { width: 26, height: 10, "aria-hidden": "true" }, item);
    svg("path", { d: "M1 5H25", class: `pointy-edge pointy-legend-line-${kind}` }, sample);
    html("span", "", item, words);
  }
  const views = html("div", "pointy-views", root);
  views.dataset.view = "graph";
  const tabs = html("div", "pointy-tabs", views);
  tabs.setAttribute("role", "tablist");
  const tabButtons = {};
  for (const [name, words] of [["graph", "Graph"], ["timeline", "Timeline"]]) {
    const tab = html("button", `pointy-tab pointy-tab-${name}`, tabs, words);
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-selected", String(name === "graph"));
    tab.dataset.view = name;
    tabButtons[name] = tab;
  }
  const canvas = html("div", "pointy-canvas", views);
  const timelineHost = html("div", "pointy-timeline", views);
  let timeline = null; // made when the tab is first shown
  const zoomBar = html("div", "pointy-zoom", views);
  const zoomButtons = {};
  for (const [key, label, title] of ZOOM_BUTTONS) {
    const button = html("button", `pointy-button pointy-zoom-${key}`, zoomBar, label);
    button.type = "button";
    button.title = title;
    zoomButtons[key] = button;
  }
  const tooltip = html("div", "pointy-tooltip", root);
  tooltip.hidden = true;
  tooltip.setAttribute("role", "tooltip");
  const detail = html("div", "pointy-detail", root);

  // What this view shows: the last full table, with the deltas since merged in. The status,
  // message and detail come from their traits or, while a run goes on, from the deltas;
  // whichever arrived last wins (the kernel sends both in order).
  const live = { graph: {}, nodes: {}, status: "pending", message: "", detail: {} };
  const expanded = new Set();
  let ctx = null;
  let painted = {};
  let selectedEl = null;
  let meter = null;
  let natural = { w: 0, h: 0 }; // the graph's size at zoom 1
  let zoom = 1;
  let room = 1040; // the canvas's width when the graph was last drawn
  // Elapsed time of a running node is counted from its start time on the kernel's clock, so a
  // view opened late or reloaded shows the true figure. `skew` (kernel clock minus this page's)
  // comes with every table, as its `now`; a kernel that sends no start time falls back to when
  // this view saw the node start.
  let skew = 0;
  const seenStart = new Map(); // node id -> Date.now() / 1000 when this view saw it running
  function noteStarts(ids, now) {
    if (typeof now === "number") skew = now - Date.now() / 1000;
    const at = Date.now() / 1000;
    for (const id of ids) {
      const view = live.nodes[id];
      if (view && view.state === "running") {
        if (!seenStart.has(id)) seenStart.set(id, at);
      } else seenStart.delete(id);
    }
  }
  function elapsed(id, view) {
    if (!view || view.state !== "running") return null;
    if (view.started !== null) return Math.max(0, Date.now() / 1000 + skew - view.started);
    const seen = seenStart.get(id);
    return seen === undefined ? null : Date.now() / 1000 - seen;
  }

  function readTable() {
    live.nodes = {};
    const table = parseJSON(model.get("nodes_json"), "nodes_json");
    if (table) noteStarts(mergeTable(live.nodes, table), table.now);
  }

  function build() {
    canvas.replaceChildren();
    ctx = { nodeEls: new Map(), collapsed: new Map(), groupOf: new Map(), arms: [], armsOf: new Map(), retries: new Map(), drawn: 0, plan: !model.get("run_id"), elapsed, arrows: new Map(), links: null };
    ctx.nodeTemplate = nodeTemplate(ctx.plan);
    selectedEl = null;
    painted = {};
    const graph = live.graph;
    for (const node of graph.nodes || []) if (node.retry) ctx.retries.set(node.id, node.retry);
    if (!graph.root) {
      html("div", "pointy-empty", canvas, "No run yet.");
      paintStatus();
      return;
    }
    // Marks for the first-frame test (tests/test_widget_look.py prints where the time goes).
    performance.mark("pointy-build");
    if (!meter) meter = labelMeter(getComputedStyle(root).fontFamily);
    const layout = measure(graph.root, expanded, meter);
    performance.mark("pointy-measured");
    const svgEl = svg("svg", { class: "pointy-graph" });
    addStaleStripes(svgEl);
    const wrapWidth = Math.max(480, (el.clientWidth || 1040) - 2 * MARGIN);
    const size = drawRoot(layout, svgEl, ctx, wrapWidth);
    performance.mark("pointy-drawn");
    natural = size;
    room = wrapWidth + 2 * MARGIN;
    svgEl.setAttribute("viewBox", `0 0 ${size.w} ${size.h}`);
    paint(ctx, live.nodes, painted, Object.keys(live.nodes));
    for (const group of ctx.collapsed.values()) paintGroup(group, live.nodes); // also those with no view yet
    for (const arm of ctx.arms) paintArm(arm, live.nodes);
    performance.mark("pointy-painted");
    canvas.appendChild(svgEl);
    applyZoom();
    paintSelected();
    paintStale();
    paintStatus();
    performance.mark("pointy-built");
  }

  function onTable() {
    readTable();
    if (ctx) paint(ctx, live.nodes, painted, Object.keys(live.nodes));
    paintStatus();
  }

  function onDelta(content) {
    if (!content || content.type !== "delta" || content.run !== model.get("run_id")) return;
    const ids = mergeTable(live.nodes, content.nodes);
    noteStarts(ids, content.now);
    if (content.status !== undefined) live.status = content.status;
    if (content.message !== undefined) live.message = content.message;
    if (ctx) paint(ctx, live.nodes, painted, ids);
    paintStatus();
    if (content.detail !== undefined) {
      live.detail = content.detail;
      paintDetail();
    }
  }

  function applyZoom() {
    const svgEl = canvas.querySelector("svg.pointy-graph");
    if (!svgEl) return;
    svgEl.setAttribute("width", Math.round(natural.w * zoom));
    svgEl.setAttribute("height", Math.round(natural.h * zoom));
    root.dataset.zoom = zoom.toFixed(2);
    // The room was measured before the graph was drawn: asking the canvas now would force a
    // layout of every node before the first frame.
    const large = natural.w > room || natural.h > MAX_CANVAS_H || zoom !== 1;
    zoomBar.dataset.large = String(large); // fit and zoom only where they help
  }

  function setZoom(value) {
    zoom = Math.min(4, Math.max(0.1, value));
    applyZoom();
  }

  function fitWidth() {
    room = canvas.clientWidth || room;
    setZoom(natural.w > 0 ? Math.min(1, room / natural.w) : 1);
  }

  function paintStatus() {
    const state = live.status || "pending";
    const views = Object.values(live.nodes);
    let done = 0;
    let failed = 0;
    let ran = 0;
    for (const view of views) {
      if (DONE.has(view.state)) done++;
      if (view.state === "failed") failed++;
      if (view.state === "succeeded" || view.state === "failed") ran++;
    }
    const run = model.get("run_id");
    status.dataset.status = state;
    root.dataset.status = state;
    root.dataset.mode = run ? "run" : "plan";
    let text;
    if (!run) text = `Plan · ${views.length} node${views.length === 1 ? "" : "s"} · nothing runs`;
    else if (state === "cancelled") text = `Run ${run} · cancelled after ${ran} of ${views.length} steps`;
    else text = `Run ${run} · ${state} · ${done}/${views.length} done${failed ? ` · ${failed} failed` : ""}`;
    statusText.textContent = text;
    // The cancelled line already says it all; other messages are elided, whole in the tooltip.
    const said = state === "cancelled" && /cancel/i.test(live.message || "") ? "" : live.message || "";
    message.textContent = said;
    message.title = said;
    status.title = said ? `${text} · ${said}` : text;
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
    if (d.attempts === 1) facts.push("1 attempt");
    else if (d.attempts) facts.push(`${attemptsText(d.attempts, ctx && ctx.retries.get(d.node))} attempts`);
    if (d.duration !== null && d.duration !== undefined) {
      // A cache hit's duration is what the event took when its value was computed.
      if (d.state === "cached") facts.push(`took ${formatDuration(d.duration)} when it ran`);
      else if (d.total !== null && d.total !== undefined) facts.push(`last attempt ${formatDuration(d.duration)}`, `${formatDuration(d.total)} in all, waits included`);
      else facts.push(formatDuration(d.duration));
    }
    const heads = ctx ? ctx.arms.filter((arm) => arm.headStep === d.node) : [];
    if (heads.length && d.descriptor !== null && d.descriptor !== undefined) facts.push(`took ${armText(d.descriptor)}`);
    html("span", "pointy-facts", head, facts.join(" · "));
    if ("pointyLabextension" in document.body.dataset) {
      const link = html("a", "pointy-goto", head, "Go to definition");
      link.href = "#";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        root.dispatchEvent(new CustomEvent("pointy:goto-definition", { bubbles: true, composed: true, detail: { name: d.node } }));
      });
    }
    if (d.where) html("div", "pointy-where", detail, d.where); // said by Python: a cache hit
    else if (d.worker) html("div", "pointy-where", detail, ranWhere(d.worker));
    section("Value", d.value, "pointy-value", true);
    section("Error", d.error, "pointy-error", false);
    section("Traceback", d.traceback, "pointy-traceback", true);
    section("Output", d.output, "pointy-output", true);
    section("Cache", d.cache, "pointy-cache-note", false);
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
      // keep the keyboard where it was: on the same group's toggle, now drawn anew
      const again = canvas.querySelector(`button.pointy-group-toggle[data-group="${CSS.escape(id)}"]`);
      if (again) again.focus({ preventScroll: true });
    };
    return null;
  }

  const onClick = (event) => {
    const action = target(event);
    if (action) action();
  };
  const onKey = (event) => {
    const step = ARROWS[event.key];
    const from = event.target.closest && event.target.closest("g.pointy-node");
    if (step && from && ctx) {
      const next = neighbour(ctx, from.getAttribute("data-node"), step);
      if (next) {
        event.preventDefault();
        next.g.focus();
      }
      return;
    }
    if (event.key !== "Enter" && event.key !== " ") return;
    if (event.target.tagName === "BUTTON") return; // a real button clicks itself
    const action = target(event);
    if (action) {
      event.preventDefault();
      action();
    }
  };
  const onOver = (event) => {
    const node = event.target.closest && event.target.closest("g.pointy-node");
    if (!node) {
      tooltip.hidden = true;
      return;
    }
    const id = node.getAttribute("data-node");
    const view = live.nodes[id] || { state: "pending", attempts: 0, duration: null };
    const d = live.detail || {};
    let error = d.node === id ? d.error : view.error || null;
    if (!error && view.state === "failed" && (live.message || "").startsWith(`${id} failed: `)) error = live.message.slice(id.length + 9);
    tooltip.replaceChildren();
    const stale = node.getAttribute("data-stale") === "true";
    tooltipLines(id, view, error, ctx.retries.get(id), elapsed(id, view), stale).forEach((line, i) => html("div", i ? "" : "pointy-tooltip-name", tooltip, line));
    tooltip.dataset.node = id;
    const box = node.getBoundingClientRect();
    const host = root.getBoundingClientRect();
    tooltip.style.left = `${box.left - host.left}px`;
    tooltip.style.top = `${box.bottom - host.top + 4}px`;
    tooltip.hidden = false;
  };
  const onOut = (event) => {
    if (!event.relatedTarget || !event.relatedTarget.closest || !event.relatedTarget.closest("g.pointy-node")) tooltip.hidden = true;
  };
  // Ctrl/⌘ + wheel zooms the graph; a plain wheel scrolls as usual.
  const onWheel = (event) => {
    if (!(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    setZoom(zoom * (event.deltaY < 0 ? 1.1 : 1 / 1.1));
  };
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("keydown", onKey);
  canvas.addEventListener("pointerover", onOver);
  canvas.addEventListener("pointerout", onOut);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  zoomButtons.fit.addEventListener("click", fitWidth);
  zoomButtons.in.addEventListener("click", () => setZoom(zoom * 1.25));
  zoomButtons.out.addEventListener("click", () => setZoom(zoom / 1.25));
  zoomButtons.reset.addEventListener("click", () => setZoom(1));
  for (const format of ["svg", "png"]) {
    zoomButtons[format].addEventListener("click", () => {
      const svgEl = canvas.querySelector("svg.pointy-graph");
      if (svgEl) savePicture(svgEl, `pointy-${model.get("run_id") || "plan"}`, format);
    });
  }
  // Graph or timeline. The kernel computes the timeline's layout only while a view shows it.
  function showView(name) {
    views.dataset.view = name;
    for (const [key, tab] of Object.entries(tabButtons)) tab.setAttribute("aria-selected", String(key === name));
    if (name === "timeline") {
      if (!timeline) timeline = timelineView(timelineHost, getComputedStyle(root).fontFamily);
      timeline.show(parseJSON(model.get("timeline_json"), "timeline_json"));
    }
    model.send({ type: "view", view: name });
  }
  for (const [name, tab] of Object.entries(tabButtons)) tab.addEventListener("click", () => showView(name));
  // The tablist's keys: ← and → move to the other tab and show it.
  tabs.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    event.preventDefault();
    const next = views.dataset.view === "graph" ? "timeline" : "graph";
    showView(next);
    tabButtons[next].focus();
  });

  // Running nodes tick their elapsed time: one timer in the page, no kernel messages.
  const clock = setInterval(() => {
    if (!ctx) return;
    for (const id of seenStart.keys()) {
      const el = ctx.nodeEls.get(id);
      const view = live.nodes[id];
      if (el && view) setSub(el, subText(view, ctx.retries.get(id), elapsed(id, view)));
    }
    if (timeline && views.dataset.view === "timeline") timeline.tick();
  }, 1000);

  const handlers = [
    ["change:graph_json", () => {
      live.graph = parseJSON(model.get("graph_json"), "graph_json") || {};
      readTable();
      build();
    }],
    ["change:nodes_json", onTable],
    ["change:timeline_json", () => {
      if (timeline && views.dataset.view === "timeline") timeline.show(parseJSON(model.get("timeline_json"), "timeline_json"));
    }],
    ["change:status", () => {
      live.status = model.get("status");
      paintStatus();
    }],
    ["change:message", () => {
      live.message = model.get("message");
      paintStatus();
    }],
    ["change:run_id", paintStatus],
    ["change:dashboard", paintDashboard],
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
    canvas.removeEventListener("pointerover", onOver);
    canvas.removeEventListener("pointerout", onOut);
    canvas.removeEventListener("wheel", onWheel);
    clearInterval(clock);
  };
}

export default { render };
