// Runs in Chromium, driven by bench/web_decode.py: times decoding and applying one frame
// with the page's decoder, beside two baselines measured in the same run.
import { applyFrame, createFrameStats } from '/js/decoder.js';
import { NodeStore } from '/js/node-store.js';

/** The usual first client: an object per record, then a Map of node objects. */
function naiveDecodeApply(buffer, nodes) {
  const view = new DataView(buffer);
  const records = [];
  for (let o = 0; o < buffer.byteLength; o += 28) {
    records.push({
      id: view.getUint32(o, true),
      position: { x: view.getFloat32(o + 4, true), y: view.getFloat32(o + 8, true), z: view.getFloat32(o + 12, true) },
      velocity: { x: view.getFloat32(o + 16, true), y: view.getFloat32(o + 20, true), z: view.getFloat32(o + 24, true) },
    });
  }
  for (const record of records) {
    const node = nodes.get(record.id);
    if (node) {
      node.position = record.position;
      node.velocity = record.velocity;
    } else {
      nodes.set(record.id, { position: record.position, velocity: record.velocity });
    }
  }
}

/**
 * Mean ms per call of each variant: batches of `reps` calls, the variants interleaved so
 * load on the machine hits them alike, then the median of each one's batch means
 * (the browser's timer is coarse, so single calls are not timed).
 * @param {Record<string, () => void>} variants @param {number} reps @param {number} batches
 */
function timeAll(variants, reps, batches) {
  for (const fn of Object.values(variants)) for (let i = 0; i < Math.max(20, reps); i++) fn(); // reach the optimising tier
  /** @type {Record<string, number[]>} */
  const means = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let b = 0; b < batches; b++) {
    for (const [name, fn] of Object.entries(variants)) {
      const start = performance.now();
      for (let i = 0; i < reps; i++) fn();
      means[name].push((performance.now() - start) / reps);
    }
  }
  return Object.fromEntries(Object.entries(means).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]]));
}

/** @param {Record<string, ArrayBuffer>} frames  records -> frame bytes */
export async function run(frames, reps) {
  const results = [];
  for (const [records, buffer] of Object.entries(frames)) {
    const n = Number(records);
    const r = Math.max(3, Math.round(reps * 10_000 / n));
    const stats = createFrameStats();
    const store = new NodeStore(1024);
    applyFrame(buffer, store, stats);
    if (stats.applied !== n) throw new Error(`applied ${stats.applied} of ${n}`);
    const nodes = new Map();
    const timed = timeAll({
      ours: () => applyFrame(buffer, store, stats),
      fresh: () => applyFrame(buffer, new NodeStore(n), stats),
      naive: () => naiveDecodeApply(buffer, nodes),
    }, r, 9);
    results.push({ records: n, bytes: buffer.byteLength, ...timed });
  }
  return results;
}
