/**
 * What each status, type and health level looks like: one table shared by the scene and
 * the legend, so the two cannot disagree. Colours are chosen to stay apart on a dim
 * projector against the dark background.
 */

/** @type {Record<string, number>} status -> colour */
export const STATUS_COLORS = {
  active: 0x2ee66b,
  busy: 0xffb31a,
  idle: 0x4aa8ff,
  initializing: 0xc38cff,
  error: 0xff3b4a,
  terminating: 0xff7a45,
  offline: 0x7c8594,
};
export const UNKNOWN_COLOR = 0x9aa4b2;

/**
 * Agent type -> shape name (a key of SHAPES in shapes.js) and the glyph the legend shows.
 * @type {Record<string, { shape: string, glyph: string }>}
 */
export const TYPE_SHAPES = {
  queen: { shape: 'icosahedron', glyph: '✦' },
  coordinator: { shape: 'octahedron', glyph: '◆' },
  researcher: { shape: 'sphere', glyph: '●' },
  coder: { shape: 'cube', glyph: '■' },
  analyst: { shape: 'tetrahedron', glyph: '▲' },
  architect: { shape: 'pyramid', glyph: '△' },
  tester: { shape: 'cylinder', glyph: '▮' },
  reviewer: { shape: 'dodecahedron', glyph: '⬟' },
  optimizer: { shape: 'torus', glyph: '◎' },
  documenter: { shape: 'slab', glyph: '▬' },
  monitor: { shape: 'capsule', glyph: '◐' },
  specialist: { shape: 'knot', glyph: '✺' },
};
export const UNKNOWN_SHAPE = 'point';

/** Health ring colours: at or above the threshold, this colour. */
export const HEALTH_BANDS = [
  { min: 70, color: 0x2ee66b, label: 'healthy ≥ 70' },
  { min: 40, color: 0xffb31a, label: 'strained 40–70' },
  { min: 0, color: 0xff3b4a, label: 'failing < 40' },
];

/** @param {number} health 0..100 @returns {number} colour */
export function healthColor(health) {
  for (const band of HEALTH_BANDS) if (health >= band.min) return band.color;
  return HEALTH_BANDS[HEALTH_BANDS.length - 1].color;
}

export const LINK_COLOR = 0x5fd7ff;
/** Links the orchestrator did not show, inferred from agent types: a dim amber, never cyan. */
export const INFERRED_LINK_COLOR = 0xb08a3c;
export const PULSE_COLOR = 0xffffff;

/**
 * An agent's size: bigger with workload and token rate, so busy agents stand out.
 * @param {number} workload 0..1
 * @param {number} tokenRate tokens a second
 */
export function agentScale(workload, tokenRate) {
  const w = workload > 0 ? (workload < 1 ? workload : 1) : 0;
  const t = tokenRate > 0 ? Math.min(1, tokenRate / 400) : 0;
  return 0.8 + 0.9 * w + 0.5 * t;
}
