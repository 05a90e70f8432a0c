/**
 * The geometry of each agent shape, built once. Low polygon counts on purpose: one
 * instanced draw per shape carries thousands of agents, and software WebGL must keep up.
 */

import * as THREE from 'three';

/** @type {Record<string, () => THREE.BufferGeometry>} */
const BUILDERS = {
  icosahedron: () => new THREE.IcosahedronGeometry(1.25, 0),
  octahedron: () => new THREE.OctahedronGeometry(1.1, 0),
  sphere: () => new THREE.SphereGeometry(0.85, 16, 10),
  cube: () => new THREE.BoxGeometry(1.3, 1.3, 1.3),
  tetrahedron: () => new THREE.TetrahedronGeometry(1.2, 0),
  pyramid: () => new THREE.ConeGeometry(0.95, 1.5, 4, 1),
  cylinder: () => new THREE.CylinderGeometry(0.7, 0.7, 1.3, 14, 1),
  dodecahedron: () => new THREE.DodecahedronGeometry(0.95, 0),
  torus: () => new THREE.TorusGeometry(0.7, 0.26, 8, 20),
  slab: () => new THREE.BoxGeometry(1.6, 0.5, 1.1),
  capsule: () => new THREE.CapsuleGeometry(0.45, 0.8, 3, 10),
  knot: () => new THREE.TorusKnotGeometry(0.55, 0.18, 48, 6),
  point: () => new THREE.SphereGeometry(0.45, 8, 6),
};

/** Shape names in draw order; the index is the shape's id in per-slot arrays. */
export const SHAPE_NAMES = Object.freeze(Object.keys(BUILDERS));

/** @param {string} name @returns {THREE.BufferGeometry} */
export function buildShape(name) {
  const build = BUILDERS[name];
  if (!build) throw new Error(`unknown shape ${name}`);
  const geometry = build();
  geometry.computeBoundingSphere();
  return geometry;
}
