/**
 * Decodes the binary stream's frames straight into a NodeStore.
 *
 * One WebSocket binary message is N records of 28 bytes, little-endian:
 * `u32 node_id | f32 x y z | f32 vx vy vz`. Seven 4-byte words a record, so on a
 * little-endian host with an aligned buffer the whole frame is read through one
 * Int32Array and one Float32Array view; otherwise through a DataView. Either way no
 * object is made per record.
 */

import { ID_MASK } from './node-store.js';

/** @typedef {import('./node-store.js').NodeStore} NodeStore */

export const RECORD_SIZE = 28;
const WORDS_PER_RECORD = 7;
const BOTH_KIND_BITS = 3;

/** True on every platform browsers run on today; checked rather than assumed. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
 * @param {boolean} [forceDataView]  take the DataView path even when views would do (tests)
 * @returns {FrameStats} `stats`
 * @throws {FrameLengthError} when the length is not a multiple of 28; nothing is applied then
 */
export function applyFrame(data, store, stats, forceDataView = false) {
  const { buffer, offset, length } = bytesOf(data);
  const n = recordCount(length);
  store.reserve(n);
  stats.records = n;
  stats.applied = 0;
  stats.skipped = 0;
  if (n === 0) return stats;
  if (HOST_IS_LITTLE_ENDIAN && offset % 4 === 0 && !forceDataView) {
    applyWords(new Int32Array(buffer, offset, n * WORDS_PER_RECORD),
      new Float32Array(buffer, offset, n * WORDS_PER_RECORD), n, store, stats);
  } else {
    applyDataView(new DataView(buffer, offset, length), n, store, stats);
  }
  return stats;
}

/**
 * @param {Int32Array} i32  the ids as signed words: V8 keeps them small integers (u32 >= 2^31 would be doubles)
 * @param {Float32Array} f32 @param {number} n
 * @param {NodeStore} store @param {FrameStats} stats
 */
function applyWords(i32, f32, n, store, stats) {
  const target = store.target;
  const shown = store.shown;
  const velocity = store.velocity;
  const placed = store.placed;
  let applied = 0;
  for (let r = 0, w = 0; r < n; r++, w += WORDS_PER_RECORD) {
    const id = i32[w];
    const x = f32[w + 1], y = f32[w + 2], z = f32[w + 3];
    const vx = f32[w + 4], vy = f32[w + 5], vz = f32[w + 6];
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

/** @param {DataView} view @param {number} n @param {NodeStore} store @param {FrameStats} stats */
function applyDataView(view, n, store, stats) {
  const target = store.target;
  const shown = store.shown;
  const velocity = store.velocity;
  const placed = store.placed;
  let applied = 0;
  for (let r = 0, o = 0; r < n; r++, o += RECORD_SIZE) {
    const id = view.getUint32(o, true);
    const x = view.getFloat32(o + 4, true), y = view.getFloat32(o + 8, true), z = view.getFloat32(o + 12, true);
    const vx = view.getFloat32(o + 16, true), vy = view.getFloat32(o + 20, true), vz = view.getFloat32(o + 24, true);
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
