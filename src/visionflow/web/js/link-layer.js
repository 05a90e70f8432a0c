/**
 * Communication links: one LineSegments draw for every link, brightness following the
 * link's decayed intensity, and one Points draw for pulses: a fresh message sends a
 * bright dot from sender to receiver and flashes the line.
 *
 * The link list is flattened into typed arrays when it changes; each render frame only
 * reads positions and writes the vertex buffers.
 */

import * as THREE from 'three';
import { INFERRED_LINK_COLOR, LINK_COLOR, PULSE_COLOR } from './palette.js';

const PULSE_MS = 900;
const MIN_BRIGHTNESS = 0.05; // a link about to be pruned is a faint trace; busy links glow
const _link = new THREE.Color(LINK_COLOR);
const _inferred = new THREE.Color(INFERRED_LINK_COLOR);
const _pulse = new THREE.Color(PULSE_COLOR);

export class LinkLayer {
  /**
   * @param {THREE.Scene} scene
   * @param {import('./swarm-model.js').SwarmModel} model
   */
  constructor(scene, model) {
    this.scene = scene;
    this.model = model;
    /** @type {number} links drawn in the last frame */
    this.drawn = 0;
    this._count = 0;
    this._capacity = 0;
    this._sourceNode = new Uint32Array(0);
    this._targetNode = new Uint32Array(0);
    /** @type {import('./swarm-model.js').LinkState[]} */
    this._states = [];
    this._seenVersion = -1;
    this._lineMaterial = new THREE.LineBasicMaterial({
      vertexColors: true, transparent: true, blending: THREE.AdditiveBlending, depthWrite: false,
    });
    this._dot = dotTexture();
    this._pointMaterial = new THREE.PointsMaterial({
      size: 10, sizeAttenuation: false, vertexColors: true, transparent: true, map: this._dot, alphaTest: 0.02,
      blending: THREE.AdditiveBlending, depthWrite: false,
    });
    /** @type {THREE.LineSegments | null} */
    this._lines = null;
    /** @type {THREE.Points | null} */
    this._points = null;
    this._allocate(512);
  }

  /** @param {number} capacity */
  _allocate(capacity) {
    this._disposeObjects();
    this._capacity = capacity;
    this._sourceNode = new Uint32Array(capacity);
    this._targetNode = new Uint32Array(capacity);
    const lines = new THREE.BufferGeometry();
    lines.setAttribute('position', dynamicAttribute(capacity * 2));
    lines.setAttribute('color', dynamicAttribute(capacity * 2));
    lines.setDrawRange(0, 0);
    this._lines = new THREE.LineSegments(lines, this._lineMaterial);
    this._lines.frustumCulled = false;
    this._lines.name = 'links';
    const points = new THREE.BufferGeometry();
    points.setAttribute('position', dynamicAttribute(capacity));
    points.setAttribute('color', dynamicAttribute(capacity));
    points.setDrawRange(0, 0);
    this._points = new THREE.Points(points, this._pointMaterial);
    this._points.frustumCulled = false;
    this._points.renderOrder = 2;
    this._points.name = 'link-pulses';
    this.scene.add(this._lines, this._points);
    this._seenVersion = -1;
  }

  _flatten() {
    const links = this.model.links;
    if (links.size > this._capacity) this._allocate(Math.max(links.size, this._capacity * 2));
    this._states.length = 0;
    let i = 0;
    for (const link of links.values()) {
      this._states.push(link);
      this._sourceNode[i] = link.sourceNode;
      this._targetNode[i] = link.targetNode;
      i++;
    }
    this._count = i;
    this._seenVersion = this.model.linkVersion;
  }

  /**
   * Write this frame's vertices.
   * @param {number} nowMs  page clock
   * @param {number} serverNow  server clock, seconds
   * @param {number} cullDistance  links with both ends beyond it are not drawn
   * @param {THREE.Vector3} cameraPos
   */
  update(nowMs, serverNow, cullDistance, cameraPos) {
    if (this._seenVersion !== this.model.linkVersion) this._flatten();
    const nodes = this.model.nodes;
    const shown = nodes.shown;
    const lines = /** @type {THREE.LineSegments} */ (this._lines);
    const points = /** @type {THREE.Points} */ (this._points);
    const linePos = /** @type {THREE.BufferAttribute} */ (lines.geometry.attributes.position);
    const lineCol = /** @type {THREE.BufferAttribute} */ (lines.geometry.attributes.color);
    const pointPos = /** @type {THREE.BufferAttribute} */ (points.geometry.attributes.position);
    const pointCol = /** @type {THREE.BufferAttribute} */ (points.geometry.attributes.color);
    const lp = /** @type {Float32Array} */ (linePos.array), lc = /** @type {Float32Array} */ (lineCol.array);
    const pp = /** @type {Float32Array} */ (pointPos.array), pc = /** @type {Float32Array} */ (pointCol.array);
    const limit2 = cullDistance === Infinity ? Infinity : cullDistance * cullDistance;
    const cx = cameraPos.x, cy = cameraPos.y, cz = cameraPos.z;
    let k = 0;
    let pulses = 0;
    for (let i = 0; i < this._count; i++) {
      const a = nodes.slotOf(this._sourceNode[i]);
      const b = nodes.slotOf(this._targetNode[i]);
      if (a < 0 || b < 0 || !nodes.placed[a] || !nodes.placed[b]) continue;
      const pa = a * 3, pb = b * 3;
      const ax = shown[pa], ay = shown[pa + 1], az = shown[pa + 2];
      const bx = shown[pb], by = shown[pb + 1], bz = shown[pb + 2];
      const da = (ax - cx) ** 2 + (ay - cy) ** 2 + (az - cz) ** 2;
      const db = (bx - cx) ** 2 + (by - cy) ** 2 + (bz - cz) ** 2;
      if (da > limit2 && db > limit2) continue;
      const state = this._states[i];
      const intensity = this.model.intensityOf(state, serverNow);
      const age = nowMs - state.pulseAt;
      const flash = age < PULSE_MS ? 1 - age / PULSE_MS : 0;
      const brightness = MIN_BRIGHTNESS + (1 - MIN_BRIGHTNESS) * Math.min(1, intensity);
      const v = k * 6;
      lp[v] = ax; lp[v + 1] = ay; lp[v + 2] = az; lp[v + 3] = bx; lp[v + 4] = by; lp[v + 5] = bz;
      const base = state.inferred ? _inferred : _link;
      const r = base.r * brightness + _pulse.r * flash * 0.8;
      const g = base.g * brightness + _pulse.g * flash * 0.8;
      const bl = base.b * brightness + _pulse.b * flash * 0.8;
      lc[v] = r; lc[v + 1] = g; lc[v + 2] = bl; lc[v + 3] = r; lc[v + 4] = g; lc[v + 5] = bl;
      k++;
      if (flash > 0) {
        const t = age / PULSE_MS;
        const q = pulses * 3;
        pp[q] = ax + (bx - ax) * t; pp[q + 1] = ay + (by - ay) * t; pp[q + 2] = az + (bz - az) * t;
        pc[q] = _pulse.r * flash + 0.2; pc[q + 1] = _pulse.g * flash + 0.2; pc[q + 2] = _pulse.b * flash + 0.2;
        pulses++;
      }
    }
    lines.geometry.setDrawRange(0, k * 2);
    points.geometry.setDrawRange(0, pulses);
    linePos.needsUpdate = true;
    lineCol.needsUpdate = true;
    pointPos.needsUpdate = true;
    pointCol.needsUpdate = true;
    this.drawn = k;
  }

  _disposeObjects() {
    for (const object of [this._lines, this._points]) {
      if (!object) continue;
      this.scene.remove(object);
      object.geometry.dispose();
    }
    this._lines = null;
    this._points = null;
  }

  dispose() {
    this._disposeObjects();
    this._lineMaterial.dispose();
    this._pointMaterial.dispose();
    this._dot.dispose();
  }
}

/** @param {number} vertices @returns {THREE.BufferAttribute} */
function dynamicAttribute(vertices) {
  const attribute = new THREE.BufferAttribute(new Float32Array(vertices * 3), 3);
  attribute.setUsage(THREE.DynamicDrawUsage);
  return attribute;
}

/** @returns {THREE.DataTexture} a soft round dot, so pulses are not square */
function dotTexture() {
  const size = 32;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x + 0.5 - size / 2, y + 0.5 - size / 2) / (size / 2);
      const a = r >= 1 ? 0 : (1 - r) ** 1.5;
      const i = (y * size + x) * 4;
      data[i] = data[i + 1] = data[i + 2] = 255;
      data[i + 3] = Math.round(a * 255);
    }
  }
  const texture = new THREE.DataTexture(data, size, size);
  texture.needsUpdate = true;
  return texture;
}
