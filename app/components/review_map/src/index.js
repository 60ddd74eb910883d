// The Review page's map: one deck.gl canvas that shows the tile and does every review edit on it.
// Drawing and vertex editing come from @deck.gl-community/editable-layers; the geometry rules stay in Python:
// this file only sends the reviewer's intended edit ({action, ids, geometry}) as a trigger value, shows it at once
// (optimistic), and takes whatever Python sends back as the truth (a refused edit reverts and shows why).
import { Deck, MapView } from "@deck.gl/core";
import { BitmapLayer, GeoJsonLayer } from "@deck.gl/layers";
import {
  EditableGeoJsonLayer, ViewMode, ModifyMode, DrawPolygonMode, DrawLineStringMode, TranslateMode,
} from "@deck.gl-community/editable-layers";
import { CSS } from "./style.js";

const CLOSE_PX = 10; // a click this near the first corner (screen pixels) finishes the outline

// editable-layers' polygon drawing, with two changes for buildings: the outline closes when the click lands within
// CLOSE_PX screen pixels of the first corner (the library's own rule is 1e-4 degrees, about 11 m: a whole house),
// and a finished outline is always a new building (never a hole punched into the footprint under it).
class DrawBuildingMode extends DrawPolygonMode {
  handleClick(event, props) {
    const sequence = this.getClickSequence();
    const screenOf = props.modeConfig && props.modeConfig.screenOf;
    if (sequence.length > 2 && screenOf) {
      const [fx, fy] = screenOf(sequence[0]);
      const [x, y] = event.screenCoords;
      if (Math.hypot(fx - x, fy - y) <= CLOSE_PX) { this.finishDrawing(props); return; }
    }
    this.addClickSequence(event);
    props.onEdit({ updatedData: props.data, editType: "addTentativePosition",
      editContext: { position: event.mapCoords } });
  }

  finishDrawing(props) {
    const sequence = this.getClickSequence();
    this.resetClickSequence();
    if (sequence.length < 3) return;
    props.onEdit({ updatedData: props.data, editType: "addFeature",
      editContext: { featureIndexes: [-1], geometry: { type: "Polygon", coordinates: [[...sequence, sequence[0]]] } } });
  }
}

const COLOURS = { // [fill RGBA, line RGB]
  pending: [[255, 200, 0, 50], [255, 200, 0]],
  accepted: [[0, 210, 90, 110], [0, 230, 100]],
  rejected: [[230, 40, 40, 70], [230, 40, 40]],
  human: [[40, 140, 255, 120], [60, 160, 255]],
  label: [[255, 255, 255, 30], [255, 255, 255]],
};
const FUSED = [255, 0, 255];
const SELECTED = [255, 255, 255];
const TOOLS = {
  select: { label: "Select", hint: "Click a building (shift-click adds, shift-drag a box); drag its corners, click a corner to delete it, click an edge to add one." },
  draw: { label: "Draw (3)", hint: "Click the corners; Enter or the first corner finishes, Esc cancels." },
  split: { label: "Split (X)", hint: "Select one building, then click a line across it; Enter or double-click finishes, Esc cancels." },
  move: { label: "Move (M)", hint: "Drag the selected building to its place." },
};
const TYPING = ["INPUT", "TEXTAREA", "SELECT"];

function statusKey(fp) {
  if (fp.status === "accepted" && (fp.source === "human" || fp.source === "label")) return fp.source;
  return fp.status;
}

function featureOf(fp) {
  const geometry = fp.parts.length === 1 ? { type: "Polygon", coordinates: fp.parts[0] }
    : { type: "MultiPolygon", coordinates: fp.parts };
  return { type: "Feature", geometry, properties: { ...fp } };
}

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function viewFor(tile, zoom, size) {
  const lons = tile.corners.map((c) => c[0]);
  const lats = tile.corners.map((c) => c[1]);
  const lon = (Math.min(...lons) + Math.max(...lons)) / 2;
  const lat = (Math.min(...lats) + Math.max(...lats)) / 2;
  if (zoom === undefined) {
    const span = Math.max(Math.max(...lons) - Math.min(...lons),
      (Math.max(...lats) - Math.min(...lats)) / Math.max(Math.cos(lat * Math.PI / 180), 1e-6), 1e-9);
    zoom = Math.min(Math.log2(size * 0.9 * 360 / (512 * span)), 24);
  }
  return { longitude: lon, latitude: lat, zoom, pitch: 0, bearing: 0, maxZoom: 26 };
}

class ReviewMap {
  constructor(root, send) {
    this.send = send;
    this.tool = "select";
    this.selected = new Set();
    this.optimistic = new Map(); // id -> {status} or {hidden: true} or {geometry}
    this.drafts = []; // drawn buildings not committed yet
    this.queue = []; // intents waiting for Python (sent one at a time)
    this.inFlight = null;
    this.seq = 0;
    this.heatOpacity = 0.35;
    this.stamps = []; // {seq, key, t0, tMap, tCommit}
    this.buildDom(root);
    this.deck = new Deck({
      parent: this.mapEl,
      views: new MapView({ repeat: false }),
      initialViewState: { longitude: 0, latitude: 0, zoom: 1 },
      controller: { doubleClickZoom: false, dragRotate: false, keyboard: false },
      onViewStateChange: ({ viewState }) => { this.viewState = viewState; this.deck.setProps({ viewState }); },
      getTooltip: (info) => this.tooltip(info),
      onClick: (info, event) => this.onClick(info, event),
      onAfterRender: () => this.afterRender(),
      getCursor: ({ isDragging, isHovering }) => (isDragging ? "grabbing" : isHovering ? "pointer"
        : this.tool === "draw" || this.tool === "split" ? "crosshair" : "grab"),
    });
    this.onKey = (evt) => this.key(evt);
    window.addEventListener("keydown", this.onKey);
  }

  buildDom(root) {
    el("style", null, root, CSS);
    const wrap = el("div", "rm-wrap", root);
    this.bar = el("div", "rm-bar", wrap);
    this.mapEl = el("div", "rm-map", wrap);
    this.mapEl.tabIndex = 0;
    this.box = el("div", "rm-box", this.mapEl);
    this.msg = el("div", "rm-msg", wrap);
    this.hint = el("div", "rm-hint", wrap);
    this.help = el("div", "rm-help", this.mapEl);
    this.help.hidden = true;
    this.mapEl.addEventListener("pointerdown", (e) => this.boxStart(e), true);
    this.mapEl.addEventListener("pointermove", (e) => this.boxMove(e), true);
    this.mapEl.addEventListener("pointerup", (e) => this.boxEnd(e), true);
  }

  // ------------------------------------------------------------ data from Python
  update(data) {
    const tileChanged = !this.data || this.data.tile.id !== data.tile.id;
    this.data = data;
    this.keys = data.keys || [];
    const ack = data.ack || 0;
    if (this.inFlight && ack >= this.inFlight.seq) {
      const stamp = this.stamps.find((s) => s.seq === this.inFlight.seq);
      if (stamp) stamp.tCommit = performance.now();
      this.inFlight = null;
    }
    if (!this.inFlight) { this.optimistic.clear(); this.drafts = []; }
    if (data.result && data.result.seq === ack && data.result.message) this.showMessage(data.result);
    const live = new Set(data.footprints.map((f) => f.id));
    for (const id of [...this.selected]) if (!live.has(id)) this.selected.delete(id);
    if (tileChanged) {
      this.selected = new Set();
      const zoom = this.viewState ? this.viewState.zoom : undefined;
      this.viewState = viewFor(data.tile, zoom, this.mapEl.clientHeight || 560);
      this.deck.setProps({ viewState: this.viewState });
    }
    this.renderBar();
    this.redraw();
    this.pump();
  }

  showMessage(result) {
    this.msg.textContent = result.message;
    this.msg.className = "rm-msg " + (result.kind === "error" ? "rm-error" : "rm-ok");
  }

  // ------------------------------------------------------------ what is shown
  footprints() {
    const out = [];
    for (const fp of this.data.footprints) {
      const o = this.optimistic.get(fp.id);
      if (o && o.hidden) continue;
      out.push(o ? { ...fp, ...o } : fp);
    }
    return out.concat(this.drafts);
  }

  redraw() {
    if (!this.data) return;
    const d = this.data;
    const shown = this.footprints();
    this.shown = shown;
    const features = shown.map(featureOf);
    const selIdx = [];
    shown.forEach((fp, i) => { if (this.selected.has(fp.id)) selIdx.push(i); });
    const layers = [
      new BitmapLayer({ id: "image", image: d.tile.image_url, bounds: d.tile.corners }),
    ];
    if (d.tile.heat_url && this.heatOpacity > 0) {
      layers.push(new BitmapLayer({ id: "heat", image: d.tile.heat_url, bounds: d.tile.corners,
        opacity: this.heatOpacity }));
    }
    layers.push(new GeoJsonLayer({ id: "neighbours", data: { type: "FeatureCollection",
      features: (d.neighbours || []).map(featureOf) }, filled: false, stroked: true, getLineColor: [200, 200, 200, 110],
      lineWidthUnits: "pixels", getLineWidth: 1, pickable: false }));
    layers.push(new GeoJsonLayer({ id: "osm", data: { type: "FeatureCollection", features: d.osm || [] },
      filled: false, stroked: true, getLineColor: [255, 140, 0, 230], lineWidthUnits: "pixels", getLineWidth: 2,
      pickable: false }));
    layers.push(new GeoJsonLayer({ id: "previews", data: { type: "FeatureCollection",
      features: (d.previews || []).map((ring) => ({ type: "Feature", properties: {},
        geometry: { type: "Polygon", coordinates: [ring] } })) }, filled: false, stroked: true,
      getLineColor: [0, 255, 255], lineWidthUnits: "pixels", getLineWidth: 2.5, pickable: false }));
    const mode = this.tool === "draw" ? DrawBuildingMode : this.tool === "split" ? DrawLineStringMode
      : this.tool === "move" ? TranslateMode : this.selected.size ? ModifyMode : ViewMode;
    layers.push(new EditableGeoJsonLayer({
      id: "footprints",
      data: { type: "FeatureCollection", features },
      mode,
      selectedFeatureIndexes: this.tool === "draw" || this.tool === "split" ? [] : selIdx,
      pickable: true,
      pickingRadius: 6,
      lineWidthUnits: "pixels",
      getFillColor: (f) => (COLOURS[statusKey(f.properties)] || COLOURS.pending)[0],
      getLineColor: (f) => (this.selected.has(f.properties.id) ? SELECTED
        : f.properties.fused && f.properties.status === "pending" ? FUSED
          : (COLOURS[statusKey(f.properties)] || COLOURS.pending)[1]),
      getLineWidth: (f) => (this.selected.has(f.properties.id) ? 3.5 : f.properties.fused ? 3 : 1.5),
      updateTriggers: { getFillColor: [this.version], getLineColor: [this.version, [...this.selected].join()],
        getLineWidth: [[...this.selected].join()] },
      editHandlePointRadiusMinPixels: 5,
      modeConfig: { screenOf: (ll) => this.deck.getViewports()[0].project(ll) },
      onEdit: (e) => this.onEdit(e),
    }));
    this.version = (this.version || 0) + 1;
    this.deck.setProps({ layers });
    this.pendingPaint = true;
    this.hint.textContent = (TOOLS[this.tool] || TOOLS.select).hint + "  Press ? for keys.";
  }

  afterRender() {
    if (!this.pendingPaint) return;
    this.pendingPaint = false;
    const now = performance.now();
    for (const s of this.stamps) if (s.tMap === undefined) s.tMap = now;
  }

  tooltip(info) {
    const p = info.object && info.object.properties;
    if (!p || p.id === undefined || p.guideType) return null;
    const score = p.score === null || p.score === undefined ? "-" : Number(p.score).toFixed(2);
    const fused = p.fused ? `\nlikely fused: ${p.fused_why || "yes"}` : "";
    return { text: `#${p.id} ${p.status} (${p.source})\nscore ${score}${fused}`,
      className: "rm-tip" };
  }

  renderBar() {
    this.bar.innerHTML = "";
    for (const [name, t] of Object.entries(TOOLS)) {
      const b = el("button", "rm-tool" + (this.tool === name ? " rm-on" : ""), this.bar, t.label);
      b.dataset.tool = name;
      b.onclick = () => this.setTool(name);
    }
    const actions = [["accept", "Accept (A)"], ["reject", "Reject (R)"], ["delete", "Delete (Del)"],
      ["merge", "Merge (C)"], ["square", "Square (Q)"], ["accept_all", "Accept rest (Shift+A)"],
      ["no_buildings", "No buildings"], ["suggest_split", "Suggest split"], ["undo", "Undo"], ["redo", "Redo"],
      ["next", "Next (N)"]];
    for (const [name, label] of actions) {
      const b = el("button", "rm-act", this.bar, label);
      b.dataset.action = name;
      b.onclick = () => this.act(name, "click");
    }
    const lab = el("label", "rm-heat", this.bar, "Heatmap ");
    const slider = el("input", null, lab);
    Object.assign(slider, { type: "range", min: 0, max: 1, step: 0.05, value: this.heatOpacity });
    slider.setAttribute("aria-label", "Heatmap opacity");
    slider.oninput = () => { this.heatOpacity = Number(slider.value); this.redraw(); };
    const help = el("button", "rm-act", this.bar, "?");
    help.onclick = () => this.toggleHelp();
  }

  toggleHelp(force) {
    this.help.hidden = force === undefined ? !this.help.hidden : !force;
    if (this.help.hidden) return;
    this.help.innerHTML = "";
    el("h4", null, this.help, "Keyboard");
    const table = el("table", null, this.help);
    for (const [key, what] of this.keys) {
      const row = el("tr", null, table);
      el("td", "rm-key", row, key);
      el("td", null, row, what);
    }
  }

  setTool(name) {
    if (name === "split" && this.selected.size !== 1) return this.say("select exactly one building to split");
    if (name === "move" && this.selected.size !== 1) return this.say("select exactly one building to move");
    this.tool = name;
    this.renderBar();
    this.redraw();
  }

  say(text) { this.showMessage({ kind: "error", message: text }); }

  // ------------------------------------------------------------ pointer
  onClick(info, event) {
    if (this.tool !== "select") return;
    const p = info.object && info.object.properties;
    if (p && p.guideType) return; // an edit handle: editable-layers handles it
    const shift = event && event.srcEvent && event.srcEvent.shiftKey;
    if (!p || p.id === undefined) { if (!shift) this.selected.clear(); }
    else if (shift) { this.selected.has(p.id) ? this.selected.delete(p.id) : this.selected.add(p.id); }
    else { this.selected = new Set([p.id]); }
    this.redraw();
  }

  boxStart(e) {
    if (!e.shiftKey || this.tool !== "select" || e.button !== 0) return;
    e.stopPropagation();
    const r = this.mapEl.getBoundingClientRect();
    this.boxFrom = [e.clientX - r.left, e.clientY - r.top];
    this.boxMoved = false;
  }

  boxMove(e) {
    if (!this.boxFrom) return;
    e.stopPropagation();
    const r = this.mapEl.getBoundingClientRect();
    const [x0, y0] = this.boxFrom;
    const x1 = e.clientX - r.left; const y1 = e.clientY - r.top;
    if (Math.abs(x1 - x0) + Math.abs(y1 - y0) > 4) this.boxMoved = true;
    Object.assign(this.box.style, { display: "block", left: Math.min(x0, x1) + "px", top: Math.min(y0, y1) + "px",
      width: Math.abs(x1 - x0) + "px", height: Math.abs(y1 - y0) + "px" });
  }

  boxEnd(e) {
    if (!this.boxFrom) return;
    const r = this.mapEl.getBoundingClientRect();
    const [x0, y0] = this.boxFrom;
    const x1 = e.clientX - r.left; const y1 = e.clientY - r.top;
    this.boxFrom = null;
    this.box.style.display = "none";
    if (!this.boxMoved) {  // a shift-click: toggle the building under the pointer
      const info = this.deck.pickObject({ x: x1, y: y1, radius: 4, layerIds: ["footprints"] });
      this.onClick(info || {}, { srcEvent: { shiftKey: true } });
      e.stopPropagation();
      return;
    }
    e.stopPropagation();
    const picked = this.deck.pickObjects({ x: Math.min(x0, x1), y: Math.min(y0, y1), width: Math.abs(x1 - x0),
      height: Math.abs(y1 - y0), layerIds: ["footprints"] });
    for (const info of picked) {
      const p = info.object && info.object.properties;
      if (p && p.id !== undefined && !p.guideType) this.selected.add(p.id);
    }
    this.redraw();
  }

  onEdit({ updatedData, editType, editContext }) {
    if (editType === "addFeature") {
      const feature = editContext.geometry ? { geometry: editContext.geometry }
        : updatedData.features[editContext.featureIndexes[0]];
      const ring = feature.geometry.coordinates;
      if (this.tool === "draw") {
        const id = -(++this.seq);
        this.drafts.push({ id, version: 0, status: "accepted", source: "human", fused: false, score: null,
          parts: [ring] });
        this.intent("draw", "draw", { geometry: feature.geometry });
      } else if (this.tool === "split") {
        const [id] = [...this.selected];
        this.intent("split_line", "split", { ids: this.versions([id]), line: ring });
        this.tool = "select";
        this.renderBar();
      }
      this.redraw();
      return;
    }
    const idx = editContext && editContext.featureIndexes ? editContext.featureIndexes[0] : undefined;
    const fp = idx === undefined ? null : this.shown[idx];
    if (!fp || fp.id < 0) return;
    const geometry = updatedData.features[idx].geometry;
    const parts = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    this.optimistic.set(fp.id, { ...(this.optimistic.get(fp.id) || {}), parts });
    if (["finishMovePosition", "addPosition", "removePosition", "translated"].includes(editType)) {
      const what = editType === "translated" ? "move" : editType === "addPosition" ? "insert vertex"
        : editType === "removePosition" ? "delete vertex" : "move vertex";
      this.intent("edit", what, { ids: this.versions([fp.id]), geometry });
    }
    this.redraw();
  }

  versions(ids) {
    const out = {};
    for (const id of ids) {
      const fp = this.data.footprints.find((f) => f.id === id);
      if (fp) out[id] = fp.version;
    }
    return out;
  }

  // ------------------------------------------------------------ keyboard
  key(evt) {
    const t = evt.composedPath ? evt.composedPath()[0] : evt.target;
    if (t && (t.isContentEditable || TYPING.includes(t.tagName))) return;
    if (!this.data || !this.mapEl.isConnected) return;
    const k = evt.key;
    const ctrl = evt.ctrlKey || evt.metaKey;
    let action = null;
    if (ctrl && (k === "z" || k === "Z")) action = evt.shiftKey ? "redo" : "undo";
    else if (ctrl && (k === "y" || k === "Y")) action = "redo";
    else if (ctrl || evt.altKey) return;
    else if (k === "a") action = "accept";
    else if (k === "A") action = "accept_all";
    else if (k === "r" || k === "R") action = "reject";
    else if (k === "Delete" || k === "Backspace") action = "delete";
    else if (k === "c" || k === "C") action = "merge";
    else if (k === "q" || k === "Q") action = "square";
    else if (k === "n" || k === "N") action = "next";
    else if (k === "3" || k === "d" || k === "D") return this.keyTool(evt, "draw");
    else if (k === "x" || k === "X") return this.keyTool(evt, "split");
    else if (k === "m" || k === "M") return this.keyTool(evt, "move");
    else if (k === "?") { evt.preventDefault(); return this.toggleHelp(); }
    else if (k === "Escape") return this.escape();
    else if (k === "Enter") return this.forwardKey("Enter");
    if (!action) return;
    evt.preventDefault();
    this.act(action, k);
  }

  keyTool(evt, tool) {
    evt.preventDefault();
    this.setTool(this.tool === tool ? "select" : tool);
  }

  // Enter / Esc go to the drawing mode itself (deck.gl only hears keys while its canvas has the focus).
  forwardKey(key) {
    const layer = this.deck.layerManager && this.deck.layerManager.getLayers().find((l) => l.id === "footprints");
    const mode = layer && layer.state && layer.state.mode;
    if (mode && mode.handleKeyUp && (this.tool === "draw" || this.tool === "split")) {
      mode.handleKeyUp({ key }, layer.getModeProps(layer.props));
      return true;
    }
    return false;
  }

  escape() {
    if (!this.help.hidden) return this.toggleHelp(false);
    this.forwardKey("Escape");
    if (this.tool !== "select") { this.tool = "select"; this.renderBar(); }
    else this.selected.clear();
    this.redraw();
  }

  // ------------------------------------------------------------ actions -> Python
  act(action, key) {
    const ids = [...this.selected].filter((id) => id > 0);
    const needs = { accept: 1, reject: 1, delete: 1, merge: 2, square: 1, suggest_split: 1 };
    if (needs[action] && ids.length < needs[action]) {
      return this.say(action === "merge" ? "select two or more buildings to merge (shift-click)"
        : `select a building to ${action} first`);
    }
    if (action === "square" && ids.length !== 1) return this.say("select exactly one building to square");
    const status = { accept: "accepted", reject: "rejected" }[action];
    if (status) for (const id of ids) this.optimistic.set(id, { ...(this.optimistic.get(id) || {}), status });
    if (action === "delete") for (const id of ids) this.optimistic.set(id, { hidden: true });
    if (action === "accept_all") {
      for (const fp of this.data.footprints) if (fp.status === "pending") this.optimistic.set(fp.id, { status: "accepted" });
    }
    if (action === "delete" || action === "merge") this.selected.clear();
    this.intent(action, key, { ids: this.versions(ids),
      pending: this.versions(this.data.footprints.filter((f) => f.status === "pending").map((f) => f.id)) });
    // the intent leaves first (Streamlit sends it after this handler returns); the map is redrawn in the next
    // frame, so rebuilding the layers does not hold the message back
    requestAnimationFrame(() => this.redraw());
  }

  intent(action, key, extra) {
    const seq = (this.lastSeq = Math.max(this.lastSeq || 0, this.data.ack || 0) + 1);
    const item = { seq, action, tile_id: this.data.tile.id, sent_at: Date.now(), ...extra };
    this.stamps.push({ seq, action, key, t0: performance.now() });
    if (this.stamps.length > 500) this.stamps.shift();
    this.queue.push(item);
    this.pump();
  }

  pump() {
    if (this.inFlight || !this.queue.length) return;
    this.inFlight = this.queue.shift();
    this.send(this.inFlight);
  }

  destroy() {
    window.removeEventListener("keydown", this.onKey);
    this.deck.finalize();
  }
}

// The test and benchmark hooks: where a lon/lat lies on screen, what the map shows, and the latency stamps.
function expose(map) {
  window.__reviewMap = {
    project: (lonlat) => {
      const vp = map.deck.getViewports()[0];
      const [x, y] = vp.project(lonlat);
      const r = map.mapEl.getBoundingClientRect();
      return [r.left + x, r.top + y];
    },
    shown: () => map.footprints().map((f) => ({ id: f.id, status: f.status, parts: f.parts })),
    selected: () => [...map.selected],
    tool: () => map.tool,
    zoom: () => (map.viewState ? map.viewState.zoom : null),
    tile: () => map.data && map.data.tile.id,
    idle: () => !map.inFlight && !map.queue.length,
    stamps: () => map.stamps.map((s) => ({ ...s })),
    corners: () => map.data && map.data.tile.corners,
  };
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  if (!data) return undefined;
  let map = parentElement.__reviewMap;
  if (!map) {
    map = new ReviewMap(parentElement, (intent) => setTriggerValue("intent", intent));
    parentElement.__reviewMap = map;
  }
  map.send = (intent) => setTriggerValue("intent", intent);
  expose(map);
  map.update(data);
  return () => {
    setTimeout(() => {
      if (!map.mapEl.isConnected) { map.destroy(); parentElement.__reviewMap = null; }
    }, 0);
  };
}
