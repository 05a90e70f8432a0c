/**
 * Agents on screen: one InstancedMesh per shape (one draw call each) and one instanced
 * ring mesh for health, billboarded toward the camera.
 *
 * Per-slot looks (shape, colour, size, health colour) are recomputed only when the
 * swarm's metadata or membership changes. Every render frame writes instance matrices
 * and colours straight into the instance buffers from the NodeStore's `shown` positions,
 * packing visible agents to the front so culled ones cost nothing to draw.
 */

import * as THREE from 'three';
import { SHAPE_NAMES, buildShape } from './shapes.js';
import { STATUS_COLORS, TYPE_SHAPES, UNKNOWN_COLOR, UNKNOWN_SHAPE, agentScale, healthColor } from './palette.js';

const RING_SCALE = 1.45;
const SELECTED_COLOR = 0x5fd7ff;
const HIGHLIGHT = 0.55;
const _color = new THREE.Color();
const _cameraPos = new THREE.Vector3();
const _ringBasis = new THREE.Matrix4();

/** @param {string | undefined} type @returns {number} */
function shapeIndexOf(type) {
  const entry = type === undefined ? undefined : TYPE_SHAPES[type];
  return SHAPE_NAMES.indexOf(entry ? entry.shape : UNKNOWN_SHAPE);
}

export class AgentLayer {
  /**
   * @param {THREE.Scene} scene
   * @param {import('./swarm-model.js').SwarmModel} model
   */
  constructor(scene, model) {
    this.scene = scene;
    this.model = model;
    /** @type {number} agents beyond this distance from the camera are not drawn */
    this.cullDistance = Infinity;
    /** @type {number} slot under the pointer, or -1 */
    this.hovered = -1;
    /** @type {number} slot of the selected agent, or -1 */
    this.selected = -1;
    /** @type {number} agents drawn in the last frame */
    this.drawn = 0;
    this._material = new THREE.MeshStandardMaterial({ roughness: 0.42, metalness: 0.15 });
    this._ringMaterial = new THREE.MeshBasicMaterial({
      transparent: true, opacity: 0.55, side: THREE.DoubleSide, depthWrite: false,
    });
    this._ringGeometry = new THREE.RingGeometry(1.0, 1.1, 40);
    // The selected agent wears a second, bright ring that breathes, so it is easy to find again.
    this._marker = new THREE.Mesh(
      new THREE.RingGeometry(1.0, 1.16, 48),
      new THREE.MeshBasicMaterial({ color: SELECTED_COLOR, side: THREE.DoubleSide, depthTest: false, transparent: true }),
    );
    this._marker.renderOrder = 3;
    this._marker.visible = false;
    this._marker.matrixAutoUpdate = false;
    scene.add(this._marker);
    /** @type {THREE.InstancedMesh[]} */
    this._meshes = [];
    /** @type {THREE.InstancedMesh | null} */
    this._rings = null;
    this._capacity = 0;
    // Per-slot looks, rebuilt when metadata or membership changes.
    this._shape = new Uint8Array(0);
    this._rgb = new Float32Array(0);
    this._scale = new Float32Array(0);
    this._ringRgb = new Float32Array(0);
    /** @type {Int32Array[]} slots of each shape, in slot order */
    this._members = [];
    /** @type {Int32Array} members per shape */
    this._memberCount = new Int32Array(SHAPE_NAMES.length);
    this._seenAgentVersion = -1;
    this._seenNodeVersion = -1;
    this._allocate(1024);
  }

  /** @param {number} capacity */
  _allocate(capacity) {
    this._disposeMeshes();
    this._capacity = capacity;
    this._shape = new Uint8Array(capacity);
    this._rgb = new Float32Array(capacity * 3);
    this._scale = new Float32Array(capacity);
    this._ringRgb = new Float32Array(capacity * 3);
    this._members = SHAPE_NAMES.map(() => new Int32Array(capacity));
    this._meshes = SHAPE_NAMES.map((name) => {
      const mesh = new THREE.InstancedMesh(buildShape(name), this._material, capacity);
      mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
      mesh.instanceColor = new THREE.InstancedBufferAttribute(new Float32Array(capacity * 3), 3);
      mesh.instanceColor.setUsage(THREE.DynamicDrawUsage);
      mesh.frustumCulled = false; // instances move every frame; a cached bounding sphere would be stale
      mesh.count = 0;
      mesh.name = `agents:${name}`;
      this.scene.add(mesh);
      return mesh;
    });
    const rings = new THREE.InstancedMesh(this._ringGeometry, this._ringMaterial, capacity);
    rings.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    rings.instanceColor = new THREE.InstancedBufferAttribute(new Float32Array(capacity * 3), 3);
    rings.instanceColor.setUsage(THREE.DynamicDrawUsage);
    rings.frustumCulled = false;
    rings.count = 0;
    rings.renderOrder = 1;
    rings.name = 'health-rings';
    this.scene.add(rings);
    this._rings = rings;
    this._seenAgentVersion = -1;
  }

  /** Recompute every slot's looks from the metadata. */
  _restyle() {
    const nodes = this.model.nodes;
    const agents = this.model.agents;
    const n = nodes.count;
    this._memberCount.fill(0);
    for (let slot = 0; slot < n; slot++) {
      const agent = agents.get(nodes.ids[slot]);
      const shape = shapeIndexOf(agent?.type);
      this._shape[slot] = shape;
      this._members[shape][this._memberCount[shape]++] = slot;
      _color.setHex(agent ? STATUS_COLORS[agent.status] ?? UNKNOWN_COLOR : UNKNOWN_COLOR);
      _color.toArray(this._rgb, slot * 3);
      this._scale[slot] = agent ? agentScale(agent.workload, agent.token_rate) : 0.6;
      _color.setHex(healthColor(agent ? agent.health : 100));
      _color.toArray(this._ringRgb, slot * 3);
    }
    this._seenAgentVersion = this.model.agentVersion;
    this._seenNodeVersion = nodes.version;
  }

  /** @param {number} slot @returns {number} the agent's drawn radius in world units */
  radiusOf(slot) {
    return slot >= 0 && slot < this.model.nodes.count ? this._scale[slot] * 1.2 : 0;
  }

  /**
   * Write this frame's instances.
   * @param {THREE.Camera} camera
   * @param {number} nowMs  page clock, for the selection marker's breathing
   */
  update(camera, nowMs) {
    const nodes = this.model.nodes;
    if (nodes.count > this._capacity) this._allocate(Math.max(nodes.count, this._capacity * 2));
    if (this._seenAgentVersion !== this.model.agentVersion || this._seenNodeVersion !== nodes.version) this._restyle();
    camera.getWorldPosition(_cameraPos);
    _ringBasis.extractRotation(camera.matrixWorld);
    const rb = _ringBasis.elements;
    const cx = _cameraPos.x, cy = _cameraPos.y, cz = _cameraPos.z;
    const limit2 = this.cullDistance === Infinity ? Infinity : this.cullDistance * this.cullDistance;
    const shown = nodes.shown;
    const rgb = this._rgb, ringRgb = this._ringRgb, scales = this._scale;
    const rings = /** @type {THREE.InstancedMesh} */ (this._rings);
    const ringMatrix = rings.instanceMatrix.array;
    const ringColor = /** @type {THREE.InstancedBufferAttribute} */ (rings.instanceColor).array;
    let ringCount = 0;
    let drawn = 0;
    for (let shape = 0; shape < this._meshes.length; shape++) {
      const mesh = this._meshes[shape];
      const members = this._members[shape];
      const count = this._memberCount[shape];
      const matrix = mesh.instanceMatrix.array;
      const color = /** @type {THREE.InstancedBufferAttribute} */ (mesh.instanceColor).array;
      let k = 0;
      for (let i = 0; i < count; i++) {
        const slot = members[i];
        const p = slot * 3;
        const x = shown[p], y = shown[p + 1], z = shown[p + 2];
        const dx = x - cx, dy = y - cy, dz = z - cz;
        if (dx * dx + dy * dy + dz * dz > limit2) continue;
        const s = scales[slot];
        const m = k * 16;
        matrix[m] = s; matrix[m + 1] = 0; matrix[m + 2] = 0; matrix[m + 3] = 0;
        matrix[m + 4] = 0; matrix[m + 5] = s; matrix[m + 6] = 0; matrix[m + 7] = 0;
        matrix[m + 8] = 0; matrix[m + 9] = 0; matrix[m + 10] = s; matrix[m + 11] = 0;
        matrix[m + 12] = x; matrix[m + 13] = y; matrix[m + 14] = z; matrix[m + 15] = 1;
        const lift = slot === this.selected || slot === this.hovered ? HIGHLIGHT : 0;
        const c = k * 3;
        color[c] = rgb[p] + (1 - rgb[p]) * lift;
        color[c + 1] = rgb[p + 1] + (1 - rgb[p + 1]) * lift;
        color[c + 2] = rgb[p + 2] + (1 - rgb[p + 2]) * lift;
        const r = ringCount * 16;
        const rs = s * RING_SCALE * (slot === this.selected ? 1.3 : 1);
        for (let e = 0; e < 12; e++) ringMatrix[r + e] = rb[e] * rs;
        ringMatrix[r + 3] = 0; ringMatrix[r + 7] = 0; ringMatrix[r + 11] = 0;
        ringMatrix[r + 12] = x; ringMatrix[r + 13] = y; ringMatrix[r + 14] = z; ringMatrix[r + 15] = 1;
        const rc = ringCount * 3;
        ringColor[rc] = ringRgb[p]; ringColor[rc + 1] = ringRgb[p + 1]; ringColor[rc + 2] = ringRgb[p + 2];
        ringCount++;
        k++;
      }
      mesh.count = k;
      mesh.instanceMatrix.needsUpdate = true;
      /** @type {THREE.InstancedBufferAttribute} */ (mesh.instanceColor).needsUpdate = true;
      drawn += k;
    }
    this._placeMarker(rb, nowMs);
    rings.count = ringCount;
    rings.instanceMatrix.needsUpdate = true;
    /** @type {THREE.InstancedBufferAttribute} */ (rings.instanceColor).needsUpdate = true;
    this.drawn = drawn;
  }

  /** @param {ArrayLike<number>} basis  the camera's rotation @param {number} nowMs */
  _placeMarker(basis, nowMs) {
    const slot = this.selected;
    const marker = this._marker;
    marker.visible = slot >= 0 && slot < this.model.nodes.count;
    if (!marker.visible) return;
    const s = this._scale[slot] * 2.1 * (1 + 0.1 * Math.sin(nowMs / 180));
    const m = marker.matrix.elements;
    for (let e = 0; e < 12; e++) m[e] = basis[e] * s;
    m[3] = 0; m[7] = 0; m[11] = 0;
    const shown = this.model.nodes.shown;
    m[12] = shown[slot * 3]; m[13] = shown[slot * 3 + 1]; m[14] = shown[slot * 3 + 2]; m[15] = 1;
    marker.matrixWorldNeedsUpdate = true;
  }

  _disposeMeshes() {
    for (const mesh of this._meshes) {
      this.scene.remove(mesh);
      mesh.geometry.dispose();
      mesh.dispose();
    }
    this._meshes = [];
    if (this._rings) {
      this.scene.remove(this._rings);
      this._rings.dispose();
      this._rings = null;
    }
  }

  dispose() {
    this._disposeMeshes();
    this._ringGeometry.dispose();
    this.scene.remove(this._marker);
    this._marker.geometry.dispose();
    /** @type {THREE.Material} */ (this._marker.material).dispose();
    this._material.dispose();
    this._ringMaterial.dispose();
  }
}
