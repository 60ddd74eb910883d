// Footprint editor: an SVG over the tile image. Modes (chosen in Python): select, draw, edit, split.
// Reports one "shape" state value in tile pixel coordinates: {kind, nonce, ...}. No network, no libraries.
const NS = "http://www.w3.org/2000/svg";
const HINTS = {
  select: "Click buildings to select or unselect them.",
  draw: "Click the corners of the missed building; double-click (or click the first corner) to finish.",
  edit: "Click a building, then drag its corners; the outline is sent when you let go.",
  split: "Click points of a line across the building; double-click to finish the line.",
};

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function pointsAttr(pts) {
  return pts.map((p) => p[0] + "," + p[1]).join(" ");
}

function svgPoint(svg, evt) {
  const pt = svg.createSVGPoint();
  pt.x = evt.clientX;
  pt.y = evt.clientY;
  const p = pt.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.round(p.x * 100) / 100, Math.round(p.y * 100) / 100];
}

function near(a, b, tol) {
  return Math.hypot(a[0] - b[0], a[1] - b[1]) <= tol;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (!data) return;
  let root = parentElement.querySelector(".fp-editor");
  if (!root) {
    root = document.createElement("div");
    root.className = "fp-editor";
    parentElement.appendChild(root);
  }
  const fresh = !root.__st || root.__st.nonce !== data.nonce || root.__st.mode !== data.mode
    || root.__st.tile !== data.tile_id;
  const st = fresh ? { nonce: data.nonce, mode: data.mode, tile: data.tile_id, points: [], editId: null,
    editPts: null, drag: -1, selected: new Set(data.selected || []) } : root.__st;
  root.__st = st;
  const tol = Math.max(data.width, data.height) * 0.015;
  // Every shape carries the current selection, so a split line drawn after selecting keeps that selection.
  const send = (kind, extra) => setStateValue("shape", Object.assign({ kind, nonce: data.nonce,
    tile_id: data.tile_id, ids: Array.from(st.selected), versions: seenVersions() }, extra));
  // The versions the reviewer saw (optimistic locking happens against these, not the database's newest).
  function seenVersions() {
    const out = {};
    for (const fp of data.footprints || []) if (st.selected.has(fp.id)) out[fp.id] = fp.version;
    return out;
  }

  let svg, fpLayer, overlay, bar;

  function draw() {
    root.innerHTML = "";
    bar = document.createElement("div");
    bar.className = "fp-hint";
    root.appendChild(bar);
    svg = el("svg", { viewBox: `0 0 ${data.width} ${data.height}`, class: "fp-svg mode-" + data.mode });
    root.appendChild(svg);
    el("image", { href: data.image, x: 0, y: 0, width: data.width, height: data.height,
      preserveAspectRatio: "none" }, svg);
    fpLayer = el("g", { class: "footprints" }, svg);
    for (const p of data.preview || []) el("polygon", { points: pointsAttr(p), class: "preview" }, svg);
    overlay = el("g", { class: "overlay" }, svg);
    svg.addEventListener("click", (evt) => onCanvasClick(evt, svg));
    svg.addEventListener("dblclick", (evt) => onDoubleClick(evt));
    svg.addEventListener("pointermove", (evt) => onDrag(evt, svg));
    svg.addEventListener("pointerup", () => onDrop());
    refresh();
  }

  // Redraw footprints and the drawing overlay in place (the svg element stays, so double-clicks register).
  function refresh() {
    bar.textContent = HINTS[data.mode] || "";
    if (st.points.length) {
      const clear = document.createElement("button");
      clear.textContent = "Clear";
      clear.onclick = () => { st.points = []; refresh(); };
      bar.appendChild(clear);
    }
    fpLayer.innerHTML = "";
    for (const fp of data.footprints || []) {
      const editing = st.editId === fp.id && st.editPts;
      const cls = ["fp", "st-" + fp.status, fp.fused ? "fused" : "", st.selected.has(fp.id) ? "selected" : ""];
      const poly = el("polygon", { points: pointsAttr(editing ? st.editPts : fp.pts), class: cls.join(" "),
        "data-id": fp.id }, fpLayer);
      poly.addEventListener("click", (evt) => onPolygonClick(evt, fp));
    }
    overlay.innerHTML = "";
    if (st.points.length) {
      el("polyline", { points: pointsAttr(st.points), class: "drawing" }, overlay);
      st.points.forEach((p) => el("circle", { cx: p[0], cy: p[1], r: tol * 0.5, class: "vertex" }, overlay));
    }
    if (st.editPts) drawHandles(overlay);
  }

  function drawHandles(layer) {
    st.editPts.forEach((p, i) => {
      const h = el("circle", { cx: p[0], cy: p[1], r: tol * 0.6, class: "handle" }, layer);
      h.addEventListener("pointerdown", (evt) => { st.drag = i; evt.stopPropagation(); evt.preventDefault(); });
    });
  }

  function onPolygonClick(evt, fp) {
    if (data.mode === "select") {
      st.selected.has(fp.id) ? st.selected.delete(fp.id) : st.selected.add(fp.id);
      send("select", { ids: Array.from(st.selected) });
      refresh();
      evt.stopPropagation();
    } else if (data.mode === "edit" && st.editId !== fp.id) {
      st.editId = fp.id;
      st.editVersion = fp.version;
      st.editPts = fp.pts.slice(0, -1).map((p) => p.slice());
      refresh();
      evt.stopPropagation();
    }
  }

  function onCanvasClick(evt, svg) {
    if (data.mode !== "draw" && data.mode !== "split") return;
    const p = svgPoint(svg, evt);
    if (data.mode === "draw" && st.points.length >= 3 && near(p, st.points[0], tol)) return finish();
    if (!st.points.length || !near(p, st.points[st.points.length - 1], 0.01)) st.points.push(p);
    refresh();
  }

  function onDoubleClick(evt) {
    evt.preventDefault();
    finish();
  }

  function finish() {
    const pts = st.points;
    if (data.mode === "draw" && pts.length >= 1) send("polygon", { points: pts });
    if (data.mode === "split" && pts.length >= 1) send("line", { points: pts });
    st.points = [];
    refresh();
  }

  function onDrag(evt, svg) {
    if (st.drag < 0 || !st.editPts) return;
    st.editPts[st.drag] = svgPoint(svg, evt);
    const poly = svg.querySelector(`polygon[data-id="${st.editId}"]`);
    if (poly) poly.setAttribute("points", pointsAttr(st.editPts));
    const handle = svg.querySelectorAll("circle.handle")[st.drag];
    if (handle) { handle.setAttribute("cx", st.editPts[st.drag][0]); handle.setAttribute("cy", st.editPts[st.drag][1]); }
  }

  function onDrop() {
    if (st.drag < 0) return;
    st.drag = -1;
    send("edit", { id: st.editId, version: st.editVersion, points: st.editPts });
    refresh();
  }

  draw();
}
