/**
 * The three.js stage: renderer, camera, orbit controls, lights and resizing. Knows
 * nothing about agents; the layers add their objects to `scene`.
 */

import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

export const BACKGROUND = 0x070b14;
const _box = new THREE.Box3();

/**
 * True when WebGL is drawn by the CPU (SwiftShader, llvmpipe): multisampling then costs
 * more than it is worth, so the view turns it off and renders at one pixel per CSS pixel.
 * @returns {boolean}
 */
function softwareRenderer() {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return false;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|software/i.test(name);
}
const _sphere = new THREE.Sphere();

export class SceneView {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    /** @type {boolean} */
    this.software = softwareRenderer();
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: !this.software, powerPreference: 'high-performance' });
    this.renderer.setPixelRatio(this.software ? 1 : Math.min(window.devicePixelRatio, 2));
    this.renderer.setClearColor(BACKGROUND, 1);
    this.scene = new THREE.Scene();
    this.scene.fog = new THREE.FogExp2(BACKGROUND, 0.0022);
    this.camera = new THREE.PerspectiveCamera(55, 1, 0.1, 50_000);
    this.camera.position.set(0, 60, 180);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.08;
    this.controls.screenSpacePanning = true;
    this.scene.add(new THREE.HemisphereLight(0xdfe9ff, 0x1a2030, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 2.2);
    key.position.set(1, 2, 1.5);
    this.camera.add(key); // light from over the viewer's shoulder, wherever the camera goes
    this.scene.add(this.camera);
    this._grid = new THREE.PolarGridHelper(400, 12, 10, 96, 0x1c2a44, 0x121c30);
    this._grid.position.y = -120;
    this.scene.add(this._grid);
    this._onResize = this.resize.bind(this);
    window.addEventListener('resize', this._onResize);
    this.resize();
  }

  resize() {
    const width = this.canvas.clientWidth || window.innerWidth;
    const height = this.canvas.clientHeight || window.innerHeight;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / Math.max(1, height);
    this.camera.updateProjectionMatrix();
  }

  /**
   * Point the camera at a cloud of points so all of it is in view.
   * @param {Float32Array} xyz  positions, 3 floats each
   * @param {number} count
   */
  frame(xyz, count) {
    if (count === 0) return;
    _box.makeEmpty();
    for (let i = 0; i < count * 3; i += 3) {
      _box.expandByPoint(_sphere.center.set(xyz[i], xyz[i + 1], xyz[i + 2]));
    }
    _box.getBoundingSphere(_sphere);
    const radius = Math.max(_sphere.radius, 10);
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2)) * 0.8;
    this.controls.target.copy(_sphere.center);
    this.camera.position.set(_sphere.center.x + distance * 0.35, _sphere.center.y + distance * 0.4, _sphere.center.z + distance * 0.85);
    this._grid.position.set(_sphere.center.x, _sphere.center.y - radius * 1.1, _sphere.center.z);
    this._grid.scale.setScalar(radius * 2.2 / 400);
    this.scene.fog = new THREE.FogExp2(BACKGROUND, 0.35 / (distance + radius));
    this.controls.update();
  }

  /** Apply this frame's camera motion, so layers read an up-to-date camera. */
  update() {
    this.controls.update();
    this.camera.updateMatrixWorld();
  }

  draw() {
    this.renderer.render(this.scene, this.camera);
  }

  dispose() {
    window.removeEventListener('resize', this._onResize);
    this.controls.dispose();
    this._grid.dispose();
    this.renderer.dispose();
  }
}
