/**
 * Flies the camera to an agent: the orbit target glides to the agent's live position
 * and the camera closes in along its current direction, eased over a short time.
 */

import * as THREE from 'three';

const DURATION_MS = 900;
const _fromTarget = new THREE.Vector3();
const _fromCamera = new THREE.Vector3();
const _goal = new THREE.Vector3();
const _offset = new THREE.Vector3();

/** @param {number} t 0..1 */
function easeInOut(t) {
  return t < 0.5 ? 4 * t * t * t : 1 - (-2 * t + 2) ** 3 / 2;
}

export class CameraFlight {
  /**
   * @param {THREE.PerspectiveCamera} camera
   * @param {import('three/addons/controls/OrbitControls.js').OrbitControls} controls
   */
  constructor(camera, controls) {
    this.camera = camera;
    this.controls = controls;
    this._start = -1;
    this._distance = 30;
    this._from = { target: new THREE.Vector3(), camera: new THREE.Vector3() };
  }

  /** @returns {boolean} */
  get flying() {
    return this._start >= 0;
  }

  /** @param {number} nowMs @param {number} distance  how far from the agent to stop */
  start(nowMs, distance) {
    this._start = nowMs;
    this._distance = distance;
    this._from.target.copy(this.controls.target);
    this._from.camera.copy(this.camera.position);
  }

  cancel() {
    this._start = -1;
  }

  /**
   * @param {number} nowMs
   * @param {Float32Array} xyz  live positions
   * @param {number} slot  the agent's slot (it may move while we fly)
   */
  update(nowMs, xyz, slot) {
    if (this._start < 0) return;
    const t = Math.min(1, (nowMs - this._start) / DURATION_MS);
    const k = easeInOut(t);
    _goal.set(xyz[slot * 3], xyz[slot * 3 + 1], xyz[slot * 3 + 2]);
    _fromTarget.copy(this._from.target);
    _fromCamera.copy(this._from.camera);
    _offset.subVectors(_fromCamera, _fromTarget).normalize().multiplyScalar(this._distance);
    this.controls.target.lerpVectors(_fromTarget, _goal, k);
    this.camera.position.lerpVectors(_fromCamera, _goal.add(_offset), k);
    if (t >= 1) this._start = -1;
  }
}
