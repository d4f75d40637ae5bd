// Pointy batch grid: one button per batch, coloured by its state; a click selects the batch and
// the kernel shows its graph below. data-state / data-index are for tests.

const WORDS = {
  pending: "pending", running: "running", succeeded: "succeeded", failed: "failed",
  cancelled: "cancelled", skipped: "skipped",
};

function summary(cells) {
  const counts = {};
  for (const cell of cells) counts[cell.state] = (counts[cell.state] || 0) + 1;
  const parts = Object.keys(WORDS).filter((s) => counts[s]).map((s) => `${counts[s]} ${WORDS[s]}`);
  return `${cells.length} batch${cells.length === 1 ? "" : "es"}` + (parts.length ? ": " + parts.join(", ") : "");
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pointy-batch";
  const head = document.createElement("div");
  head.className = "pointy-batch-head";
  const name = document.createElement("span");
  name.className = "pointy-batch-name";
  const status = document.createElement("span");
  status.className = "pointy-batch-status";
  const counts = document.createElement("span");
  counts.className = "pointy-batch-counts";
  const link = document.createElement("a");
  link.className = "pointy-batch-dashboard";
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = "Dask dashboard";
  head.append(name, status, counts, link);
  const grid = document.createElement("div");
  grid.className = "pointy-batch-cells";
  grid.setAttribute("role", "list");
  const hint = document.createElement("div");
  hint.className = "pointy-batch-hint";
  root.append(head, grid, hint);
  el.append(root);

  const buttons = [];
  function draw() {
    let cells = [];
    try { cells = JSON.parse(model.get("cells_json") || "[]"); } catch (e) { cells = []; }
    const selected = model.get("selected");
    name.textContent = model.get("name");
    const state = model.get("status");
    status.textContent = state;
    status.dataset.state = state;
    root.dataset.status = state;
    counts.textContent = summary(cells);
    counts.title = counts.textContent;
    const dashboard = model.get("dashboard");
    link.hidden = !dashboard;
    if (dashboard) link.href = dashboard;
    while (buttons.length < cells.length) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pointy-batch-cell";
      button.setAttribute("role", "listitem");
      const index = buttons.length;
      button.addEventListener("click", () => {
        model.set("selected", index);
        model.save_changes();
      });
      grid.append(button);
      buttons.push(button);
    }
    while (buttons.length > cells.length) buttons.pop().remove();
    cells.forEach((cell, i) => {
      const button = buttons[i];
      button.textContent = String(cell.index);
      button.dataset.index = String(cell.index);
      button.dataset.state = cell.state;
      button.title = cell.title;
      button.setAttribute("aria-label", cell.title);
      button.classList.toggle("pointy-batch-selected", i === selected);
      button.setAttribute("aria-pressed", i === selected ? "true" : "false");
    });
    hint.textContent = selected >= 0 && selected < cells.length
      ? `batch_run.runs[${selected}] below; click another batch to show it`
      : "click a batch to see its graph";
  }
  draw();
  const events = ["change:cells_json", "change:selected", "change:status", "change:name", "change:dashboard"];
  for (const event of events) model.on(event, draw);
  return () => { for (const event of events) model.off(event, draw); };
}

export default { render };
