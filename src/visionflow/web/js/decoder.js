/**
 * Decodes the binary stream's frames straight into a NodeStore.
 *
 * One WebSocket binary message is N records of 28 bytes, little-endian:
 * `u32 node_id | f32 x y z | f32 vx vy vz`. They are read through one DataView, which
 * handles byte order and alignment and, measured in Chromium (bench/web_decode.py), is
 * as fast as Int32Array/Float32Array views over the same bytes or faster; no object is
 * made per record.
 */

import { ID_MASK } from './node-store.js';

/** @typedef {import('./node-store.js').NodeStore} NodeStore */

export const RECORD_SIZE = 28;
const BOTH_KIND_BITS = 3;

/** A frame whose byte length is not a whole number of records. */
export class FrameLengthError extends RangeError {
  /** @param {number} length */
  constructor(length) {
    super(`frame length ${length} is not a multiple of ${RECORD_SIZE} (remainder ${length % RECORD_SIZE})`);
    this.name = 'FrameLengthError';
    /** @type {number} */
    this.length = length;
  }
}

/**
 * What the last `applyFrame` did; the caller owns one and passes it every time.
 * @typedef {object} FrameStats
 * @property {number} records  records in the frame
 * @property {number} applied  records written to the store
 * @property {number} skipped  records ignored: a non-finite number, or both kind bits set
 */

/** @returns {FrameStats} */
export function createFrameStats() {
  return { records: 0, applied: 0, skipped: 0 };
}

/**
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {{ buffer: ArrayBufferLike, offset: number, length: number }}
 */
function bytesOf(data) {
  if (data instanceof ArrayBuffer) return { buffer: data, offset: 0, length: data.byteLength };
  if (ArrayBuffer.isView(data)) return { buffer: data.buffer, offset: data.byteOffset, length: data.byteLength };
  throw new TypeError('a frame must be an ArrayBuffer or a typed-array view');
}

/**
 * Check a frame's length; throws FrameLengthError when it is not whole records.
 * @param {number} byteLength
 * @returns {number} the number of records
 */
export function recordCount(byteLength) {
  if (byteLength % RECORD_SIZE !== 0) throw new FrameLengthError(byteLength);
  return byteLength / RECORD_SIZE;
}

/**
 * Write one frame's records into `store`: positions to `target`, velocities to
 * `velocity`; unknown ids get a slot. A node seen for the first time is also placed at
 * its position on screen, so it appears where it is instead of gliding in from the origin.
 *
 * @param {ArrayBuffer | ArrayBufferView} data  the binary message
 * @param {NodeStore} store
 * @param {FrameStats} stats  filled in; allocated once by the caller
 * @returns {FrameStats} `stats`
 * @throws {FrameLengthError} when the length is not a multiple of 28; nothing is applied then
 */
export function applyFrame(data, store, stats) {
  const { buffer, offset, length } = bytesOf(data);
  const n = recordCount(length);
  store.reserve(n);
  stats.records = n;
  stats.applied = 0;
  stats.skipped = 0;
  if (n === 0) return stats;
  applyRecords(new DataView(buffer, offset, length), n, store, stats);
  return stats;
}

/** @param {DataView} view @param {number} n @param {NodeStore} store @param {FrameStats} stats */
function applyRecords(view, n, store, stats) {
  const target = store.target;
  const shown = store.shown;
  const velocity = store.velocity;
  const placed = store.placed;
  let applied = 0;
  for (let r = 0, o = 0; r < n; r++, o += RECORD_SIZE) {
    const id = view.getInt32(o, true); // the u32's bits as a small integer; never a heap double
    const x = view.getFloat32(o + 4, true), y = view.getFloat32(o + 8, true), z = view.getFloat32(o + 12, true);
    const vx = view.getFloat32(o + 16, true), vy = view.getFloat32(o + 20, true), vz = view.getFloat32(o + 24, true);
    // v - v is 0 for every finite v and NaN for NaN and ±Infinity: one test for all six.
    if (x - x + y - y + z - z + vx - vx + vy - vy + vz - vz !== 0 || id >>> 30 === BOTH_KIND_BITS) continue;
    let slot = store.slotOf(id); // the common case, kept small enough to inline
    if (slot < 0) slot = store.ensure(id);
    const p = slot * 3;
    target[p] = x; target[p + 1] = y; target[p + 2] = z;
    velocity[p] = vx; velocity[p + 1] = vy; velocity[p + 2] = vz;
    if (placed[slot] === 0) {
      shown[p] = x; shown[p + 1] = y; shown[p + 2] = z;
      placed[slot] = 1;
    }
    applied++;
  }
  stats.applied = applied;
  stats.skipped = n - applied;
}

/** @param {number} nodeId @returns {number} the id without its kind bits */
export function nodeIndex(nodeId) {
  return nodeId & ID_MASK;
}
