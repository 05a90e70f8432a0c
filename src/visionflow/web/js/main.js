/**
 * The page: loads the config, builds the model, the scene and the panels, connects to
 * the stream, and runs the render loop. Everything else lives in one module per job;
 * this file only wires them together and handles the pointer and the toolbar.
 */

import { AgentLayer } from './agent-layer.js';
import { CameraFlight } from './camera-flight.js';
import { loadConfig, streamUrl } from './config.js';
import { StreamConnection } from './connection.js';
import { FrameLengthError, applyFrame, createFrameStats } from './decoder.js';
import { DetailPanel } from './detail-panel.js';
import { Hud } from './hud.js';
import { renderLegend } from './legend.js';
import { LinkLayer } from './link-layer.js';
import { NodeStore } from './node-store.js';
import { pick, project } from './picking.js';
import { SceneView } from './scene.js';
import { SearchBox } from './search.js';
import { SwarmModel } from './swarm-model.js';
import { SystemPanel } from './system-panel.js';

const SMOOTH_S = 0.07; // shown positions close ~63 % of the gap to the streamed ones in this time
const CLICK_SLOP_PX = 5;
const DETAIL_REDRAW_MS = 500;
const FLY_DISTANCE = 28;

/** @param {string} selector @returns {any} */
const $ = (selector) => {
  const el = document.querySelector(selector);
  if (!el) throw new Error(`page is missing ${selector}`);
  return el;
};

/** @param {string} message */
function showFatal(message) {
  const box = $('#fatal');
  box.textContent = message;
  box.hidden = false;
}

async function main() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    showFatal(`Cannot load the page's configuration: ${/** @type {Error} */ (error).message}`);
    return;
  }
  const clockOffset = config.server_time - Date.now() / 1000;
  const serverNow = () => Date.now() / 1000 + clockOffset;

  const canvas = /** @type {HTMLCanvasElement} */ ($('#view'));
  const store = new NodeStore(1024);
  const model = new SwarmModel(store, serverNow);
  const view = new SceneView(canvas);
  const agents = new AgentLayer(view.scene, model);
  const links = new LinkLayer(view.scene, model);
  const flight = new CameraFlight(view.camera, view.controls);
  const hud = new Hud($('#hud'));
  const system = new SystemPanel($('#system'));
  const label = /** @type {HTMLElement} */ ($('#hover-label'));
  const frameStats = createFrameStats();
  let framed = false;
  let paused = false;
  /** @type {number | null} */
  let selectedNode = null;
  let hoveredSlot = -1;
  let pointerX = 0, pointerY = 0, pointerDirty = false, pointerInside = false;
  let downX = 0, downY = 0;
  let lastDetailDraw = 0;
  let fitDistance = 200;
  /** @type {{ step: number, resolve: (samples: number[]) => void } | null} */
  let pixelRequest = null;

  const detail = new DetailPanel($('#detail'), model, serverNow, (nodeId) => select(nodeId, true));
  const search = new SearchBox($('#search'), $('#search-results'), model, (nodeId) => select(nodeId, true));

  const connection = new StreamConnection({
    onFrame(data) {
      hud.countMessage(data.byteLength, true);
      try {
        applyFrame(data, store, frameStats);
      } catch (error) {
        if (!(error instanceof FrameLengthError)) throw error;
        hud.badFrames++;
        console.warn(`stream: dropped a malformed frame: ${error.message}`);
        return;
      }
      if (!framed && store.count > 0) {
        view.frame(store.target, store.count);
        fitDistance = view.camera.position.distanceTo(view.controls.target);
        framed = true;
      }
    },
    onMessage(message, bytes) {
      hud.countMessage(bytes, false);
      if (message.type === 'agents') model.applyAgents(message, performance.now());
      else if (message.type === 'error') console.warn(`stream: server says ${message.error}: ${message.detail}`);
    },
    onState() {},
  });

  /** @param {number} nodeId @param {boolean} fly */
  function select(nodeId, fly) {
    selectedNode = nodeId;
    detail.open(nodeId);
    if (fly && store.slotOf(nodeId) >= 0) flight.start(performance.now(), FLY_DISTANCE);
  }

  function deselect() {
    selectedNode = null;
    flight.cancel();
    detail.close();
  }

  // ---------------------------------------------------------------- pointer
  const onPointerMove = (/** @type {PointerEvent} */ event) => {
    pointerX = event.offsetX;
    pointerY = event.offsetY;
    pointerDirty = true;
    pointerInside = true;
  };
  const onPointerLeave = () => {
    pointerInside = false;
    pointerDirty = true;
  };
  const onPointerDown = (/** @type {PointerEvent} */ event) => {
    downX = event.offsetX;
    downY = event.offsetY;
    flight.cancel();
  };
  const onPointerUp = (/** @type {PointerEvent} */ event) => {
    if (event.button !== 0 || Math.hypot(event.offsetX - downX, event.offsetY - downY) > CLICK_SLOP_PX) return;
    const slot = pick(store, model.agents, agents, view.camera, canvas, event.offsetX, event.offsetY);
    if (slot >= 0) select(store.ids[slot], false);
    else deselect();
  };

  // ---------------------------------------------------------------- toolbar
  const pauseButton = /** @type {HTMLButtonElement} */ ($('#pause'));
  const cull = /** @type {HTMLInputElement} */ ($('#cull'));
  const cullValue = /** @type {HTMLElement} */ ($('#cull-value'));
  const togglePause = () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    pauseButton.setAttribute('aria-pressed', String(paused));
  };
  const onCull = () => {
    const value = Number(cull.value);
    agents.cullDistance = value >= 100 ? Infinity : (fitDistance * 2 * value) / 100;
    cullValue.textContent = value >= 100 ? 'all' : `${agents.cullDistance.toFixed(0)} u`;
  };
  const onFit = () => {
    flight.cancel();
    if (store.count) view.frame(store.shown, store.count);
    fitDistance = view.camera.position.distanceTo(view.controls.target);
    onCull();
  };
  const onKey = (/** @type {KeyboardEvent} */ event) => {
    if (event.target instanceof HTMLInputElement) return;
    if (event.key === ' ') {
      event.preventDefault();
      togglePause();
    } else if (event.key === 'Escape') deselect();
    else if (event.key === 'f') onFit();
    else if (event.key === '/') {
      event.preventDefault();
      $('#search').focus();
    }
  };
  const fitButton = $('#fit');

  function connectAll() {
    canvas.addEventListener('pointermove', onPointerMove);
    canvas.addEventListener('pointerleave', onPointerLeave);
    canvas.addEventListener('pointerdown', onPointerDown);
    canvas.addEventListener('pointerup', onPointerUp);
    pauseButton.addEventListener('click', togglePause);
    cull.addEventListener('input', onCull);
    fitButton.addEventListener('click', onFit);
    window.addEventListener('keydown', onKey);
    detail.connect();
    search.connect();
    system.connect();
    connection.connect(streamUrl(config, window.location));
  }

  function disconnectAll() {
    connection.disconnect();
    system.disconnect();
    search.disconnect();
    detail.disconnect();
    window.removeEventListener('keydown', onKey);
    fitButton.removeEventListener('click', onFit);
    cull.removeEventListener('input', onCull);
    pauseButton.removeEventListener('click', togglePause);
    canvas.removeEventListener('pointerup', onPointerUp);
    canvas.removeEventListener('pointerdown', onPointerDown);
    canvas.removeEventListener('pointerleave', onPointerLeave);
    canvas.removeEventListener('pointermove', onPointerMove);
  }

  // ------------------------------------------------------------ render loop
  /** What the HUD shows, refilled every frame (one object for the page's lifetime). */
  const hudView = { agents: 0, links: 0, drawn: 0, connection, paused: false, frameMs: 0 };
  let labelSlot = -1, labelVersion = -1, labelX = NaN, labelY = NaN;
  let last = performance.now();
  let running = true;
  /** @param {number} now */
  function frame(now) {
    if (!running) return;
    const started = performance.now();
    const dt = Math.min(0.1, (now - last) / 1000);
    last = now;
    if (!paused) store.ease(1 - Math.exp(-dt / SMOOTH_S));
    const selectedSlot = selectedNode === null ? -1 : store.slotOf(selectedNode);
    if (selectedSlot >= 0) flight.update(now, store.shown, selectedSlot);
    else flight.cancel();
    view.update();
    if (pointerDirty) {
      pointerDirty = false;
      hoveredSlot = pointerInside ? pick(store, model.agents, agents, view.camera, canvas, pointerX, pointerY) : -1;
    }
    if (hoveredSlot >= store.count) hoveredSlot = -1;
    agents.hovered = hoveredSlot;
    agents.selected = selectedSlot;
    agents.update(view.camera, now);
    links.update(now, serverNow(), agents.cullDistance, view.camera.position);
    view.draw();
    if (pixelRequest) answerPixelRequest(pixelRequest);
    updateLabel();
    hudView.agents = model.agents.size;
    hudView.links = model.links.size;
    hudView.drawn = agents.drawn;
    hudView.paused = paused;
    hudView.frameMs = performance.now() - started;
    hud.tick(now, hudView);
    if (selectedNode !== null && now - lastDetailDraw > DETAIL_REDRAW_MS) {
      lastDetailDraw = now;
      detail.render();
    }
    requestAnimationFrame(frame);
  }

  /**
   * Read the frame just drawn (before the browser composites it away) and sample it.
   * @param {{ step: number, resolve: (samples: number[]) => void }} request
   */
  function answerPixelRequest(request) {
    pixelRequest = null;
    const gl = view.renderer.getContext();
    const width = gl.drawingBufferWidth, height = gl.drawingBufferHeight;
    const pixels = new Uint8Array(width * height * 4);
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    const samples = [];
    for (let y = 0; y < height; y += request.step) {
      for (let x = 0; x < width; x += request.step) {
        const i = (y * width + x) * 4;
        samples.push(pixels[i] + pixels[i + 1] + pixels[i + 2]);
      }
    }
    request.resolve(samples);
  }

  function updateLabel() {
    const agent = hoveredSlot >= 0 ? model.agents.get(store.ids[hoveredSlot]) : undefined;
    if (!agent) {
      if (!label.hidden) label.hidden = true;
      labelSlot = -1;
      return;
    }
    const p = hoveredSlot * 3;
    const s = project(view.camera, canvas, store.shown[p], store.shown[p + 1], store.shown[p + 2]);
    label.hidden = false;
    const x = Math.round(s.x), y = Math.round(s.y) - 18;
    if (x !== labelX || y !== labelY) { // strings only when the label actually moves
      labelX = x;
      labelY = y;
      label.style.transform = `translate(${x}px, ${y}px) translate(-50%, -100%)`;
    }
    if (hoveredSlot !== labelSlot || model.agentVersion !== labelVersion) {
      labelSlot = hoveredSlot;
      labelVersion = model.agentVersion;
      label.textContent = `${agent.name}\n${agent.type} · ${agent.status}`;
      label.dataset.status = agent.status;
    }
  }

  renderLegend($('#legend-body'));
  connectAll();
  onCull();
  requestAnimationFrame(frame);

  // A small, stable surface for diagnostics and the browser tests.
  const hook = {
    get state() { return connection.state; },
    get opened() { return connection.opened; },
    get paused() { return paused; },
    get selected() { return selectedNode; },
    agentCount: () => model.agents.size,
    nodeCount: () => store.count,
    linkCount: () => model.links.size,
    agentNames: () => Array.from(model.agents.values(), (a) => a.name),
    /** @param {string} name */
    nodeIdOf(name) {
      for (const agent of model.agents.values()) if (agent.name === name) return agent.node_id;
      return null;
    },
    /** @param {string} name @returns {{x: number, y: number, onCanvas: boolean} | null} page coordinates */
    screenPoint(name) {
      const nodeId = hook.nodeIdOf(name);
      const slot = nodeId === null ? -1 : store.slotOf(nodeId);
      if (slot < 0) return null;
      const rect = canvas.getBoundingClientRect();
      const s = project(view.camera, canvas, store.shown[slot * 3], store.shown[slot * 3 + 1], store.shown[slot * 3 + 2]);
      const x = rect.left + s.x, y = rect.top + s.y;
      const inside = s.depth < 1 && s.x >= 0 && s.y >= 0 && s.x < rect.width && s.y < rect.height;
      return { x, y, onCanvas: inside && document.elementFromPoint(x, y) === canvas };
    },
    /** @param {number} gapPx @returns {string[]} agents with no other agent within `gapPx` on screen, centre first */
    isolatedAgents(gapPx) {
      const rect = canvas.getBoundingClientRect();
      const points = Array.from(model.agents.values(), (a) => ({ name: a.name, p: hook.screenPoint(a.name) }));
      const ok = points.filter(({ p }, i) => p && p.onCanvas && points.every((o, j) => j === i || !o.p || Math.hypot(o.p.x - p.x, o.p.y - p.y) >= gapPx));
      const cx = rect.left + rect.width / 2, cy = rect.top + rect.height / 2;
      ok.sort((a, b) => Math.hypot(a.p.x - cx, a.p.y - cy) - Math.hypot(b.p.x - cx, b.p.y - cy));
      return ok.map((o) => o.name);
    },
    togglePause,
    /** @param {number} step @returns {Promise<number[]>} summed RGB of every step-th pixel of the next frame */
    samplePixels: (step) => new Promise((resolve) => { pixelRequest = { step, resolve }; }),
    /** @param {string} name @returns {number | null} how far the orbit target is from the agent */
    targetDistanceTo(name) {
      const nodeId = hook.nodeIdOf(name);
      const slot = nodeId === null ? -1 : store.slotOf(nodeId);
      if (slot < 0) return null;
      const t = view.controls.target;
      return Math.hypot(t.x - store.shown[slot * 3], t.y - store.shown[slot * 3 + 1], t.z - store.shown[slot * 3 + 2]);
    },
    dispose() {
      running = false;
      disconnectAll();
      detail.dispose();
      search.dispose();
      system.dispose();
      connection.dispose();
      links.dispose();
      agents.dispose();
      view.dispose();
    },
  };
  Object.defineProperty(window, 'visionflow', { value: hook, configurable: true });
  document.documentElement.dataset.ready = 'true';
}

main().catch((error) => {
  showFatal(`The 3D view failed to start: ${error instanceof Error ? error.message : String(error)}`);
  throw error;
});
