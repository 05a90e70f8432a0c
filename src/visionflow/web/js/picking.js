/**
 * Screen-space picking: the agent whose projected centre is nearest the pointer, within
 * its drawn radius (at least a few pixels). One pass over the agents per query, with
 * module-scope scratch vectors; used for hover, click and the page's test hook.
 */

import * as THREE from 'three';

const MIN_PICK_PX = 12;
const _point = new THREE.Vector3();
const _edge = new THREE.Vector3();
const _right = new THREE.Vector3();
const _screen = { x: 0, y: 0, depth: 0 };

/**
 * Project a world point to CSS pixels relative to the canvas.
 * @param {THREE.Camera} camera @param {HTMLCanvasElement} canvas
 * @param {number} x @param {number} y @param {number} z
 * @returns {{x: number, y: number, depth: number}} a shared object: copy before the next call; depth > 1 means behind
 */
export function project(camera, canvas, x, y, z) {
  _point.set(x, y, z).project(camera);
  _screen.x = (_point.x + 1) * 0.5 * canvas.clientWidth;
  _screen.y = (1 - _point.y) * 0.5 * canvas.clientHeight;
  _screen.depth = _point.z;
  return _screen;
}

/**
 * @param {import('./node-store.js').NodeStore} nodes
 * @param {Map<number, unknown>} agents  only these nodes can be picked
 * @param {import('./agent-layer.js').AgentLayer} layer
 * @param {THREE.PerspectiveCamera} camera
 * @param {HTMLCanvasElement} canvas
 * @param {number} px  CSS pixels from the canvas's left edge
 * @param {number} py  CSS pixels from the canvas's top edge
 * @returns {number} the slot, or -1
 */
export function pick(nodes, agents, layer, camera, canvas, px, py) {
  _right.setFromMatrixColumn(camera.matrixWorld, 0);
  const shown = nodes.shown;
  const camPos = camera.position;
  const limit2 = layer.cullDistance === Infinity ? Infinity : layer.cullDistance ** 2;
  let best = -1;
  let bestScore = Infinity;
  for (let slot = 0; slot < nodes.count; slot++) {
    if (!nodes.placed[slot] || !agents.has(nodes.ids[slot])) continue;
    const p = slot * 3;
    const x = shown[p], y = shown[p + 1], z = shown[p + 2];
    if ((x - camPos.x) ** 2 + (y - camPos.y) ** 2 + (z - camPos.z) ** 2 > limit2) continue;
    const s = project(camera, canvas, x, y, z);
    if (s.depth > 1 || s.depth < -1) continue;
    const dx = s.x - px, dy = s.y - py;
    const d2 = dx * dx + dy * dy;
    if (d2 > 60 * 60) continue;
    const cx = s.x, cy = s.y, depth = s.depth;
    const r = layer.radiusOf(slot);
    _edge.set(x, y, z).addScaledVector(_right, r);
    const e = project(camera, canvas, _edge.x, _edge.y, _edge.z);
    const radius = Math.max(MIN_PICK_PX, Math.hypot(e.x - cx, e.y - cy));
    if (d2 > radius * radius) continue;
    const score = d2 / (radius * radius) + depth * 1e-3; // nearer the centre first, then nearer the camera
    if (score < bestScore) {
      bestScore = score;
      best = slot;
    }
  }
  return best;
}
