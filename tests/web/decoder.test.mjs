// The page's frame decoder and node store, against frames made by the Python encoder
// (tests/web/fixtures, rebuilt and checked by tests/unit/web/test_web_fixture.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { FrameLengthError, RECORD_SIZE, applyFrame, createFrameStats, recordCount } from '../../src/visionflow/web/js/decoder.js';
import { NodeStore } from '../../src/visionflow/web/js/node-store.js';

const fixture = (name) => new URL(`./fixtures/${name}`, import.meta.url);
const load = (name) => {
  const bytes = readFileSync(fixture(`${name}.bin`));
  // A fresh ArrayBuffer of exactly the frame, as a WebSocket delivers it.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return { buffer, expected: JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) };
};

/** @param {NodeStore} store @param {any} expected */
function assertHolds(store, expected, field = 'target') {
  expected.node_ids.forEach((id, i) => {
    const slot = store.slotOf(id);
    assert.ok(slot >= 0, `node ${id} has a slot`);
    assert.equal(store.ids[slot], id);
    for (let k = 0; k < 3; k++) {
      assert.equal(store[field][slot * 3 + k], Math.fround(expected.positions[i][k]), `position ${id}[${k}]`);
      assert.equal(store.velocity[slot * 3 + k], Math.fround(expected.velocities[i][k]), `velocity ${id}[${k}]`);
    }
  });
}

test('round trip of a Python-encoded full frame', () => {
  const { buffer, expected } = load('full');
  const store = new NodeStore(4); // small on purpose: the frame must grow it
  const stats = createFrameStats();
  applyFrame(buffer, store, stats);
  assert.deepEqual(stats, { records: expected.node_ids.length, applied: expected.node_ids.length, skipped: 0 });
  assert.equal(store.count, expected.node_ids.length);
  assertHolds(store, expected);
  assertHolds(store, expected, 'shown'); // first sighting: placed where it is, no glide from the origin
  assert.equal(store.ids[store.slotOf(expected.node_ids[0])], expected.node_ids[0], 'ids are kept as u32');
});

test('an agent and a knowledge node with the same low bits are different nodes', () => {
  const { buffer, expected } = load('full');
  const store = new NodeStore();
  applyFrame(buffer, store, createFrameStats());
  const agent = (0x80000000 | 3) >>> 0, knowledge = 0x40000000 | 3;
  assert.ok(expected.node_ids.includes(agent) && expected.node_ids.includes(knowledge));
  assert.notEqual(store.slotOf(agent), store.slotOf(knowledge));
  assert.equal(store.slotOf((0x80000000 | 999) >>> 0), -1);
});

test('an unaligned view decodes like the aligned buffer', () => {
  const { buffer, expected } = load('full');
  const padded = new Uint8Array(buffer.byteLength + 1);
  padded.set(new Uint8Array(buffer), 1);
  const store = new NodeStore();
  applyFrame(padded.subarray(1), store, createFrameStats());
  assertHolds(store, expected);
});

test('a delta frame moves only its nodes and keeps what is on screen', () => {
  const full = load('full');
  const delta = load('delta');
  const store = new NodeStore();
  const stats = createFrameStats();
  applyFrame(full.buffer, store, stats);
  const before = store.shown.slice(0, store.count * 3);
  applyFrame(delta.buffer, store, stats);
  assert.equal(stats.applied, delta.expected.node_ids.length);
  assert.equal(store.count, full.expected.node_ids.length, 'no node added');
  assertHolds(store, delta.expected);
  assert.deepEqual(store.shown.slice(0, store.count * 3), before, 'the render loop, not the decoder, moves shown positions');
  const untouched = full.expected.node_ids.findIndex((id) => !delta.expected.node_ids.includes(id));
  const slot = store.slotOf(full.expected.node_ids[untouched]);
  assert.equal(store.target[slot * 3], Math.fround(full.expected.positions[untouched][0]));
});

test('lengths that are not whole records are rejected and change nothing', () => {
  const { buffer } = load('full');
  for (const length of [1, 27, 29, 55, buffer.byteLength - 1]) {
    const store = new NodeStore();
    assert.throws(() => applyFrame(buffer.slice(0, length), store, createFrameStats()), FrameLengthError);
    assert.equal(store.count, 0);
    assert.throws(() => recordCount(length), /is not a multiple of 28/);
  }
  assert.equal(recordCount(0), 0);
  assert.equal(RECORD_SIZE, 28);
  const stats = createFrameStats();
  applyFrame(new ArrayBuffer(0), new NodeStore(), stats);
  assert.equal(stats.records, 0);
  assert.throws(() => applyFrame(/** @type {any} */ ('not bytes'), new NodeStore(), stats), TypeError);
});

test('records with a non-finite number or both kind bits are skipped, not applied', () => {
  const view = new DataView(new ArrayBuffer(RECORD_SIZE * 4));
  const ids = [(0x80000000 | 1) >>> 0, (0x80000000 | 2) >>> 0, 0xc0000003, (0x80000000 | 4) >>> 0];
  ids.forEach((id, r) => {
    view.setUint32(r * RECORD_SIZE, id, true);
    for (let k = 1; k < 7; k++) view.setFloat32(r * RECORD_SIZE + k * 4, r + k, true);
  });
  view.setFloat32(RECORD_SIZE + 8, NaN, true);
  view.setFloat32(3 * RECORD_SIZE + 24, Infinity, true);
  const store = new NodeStore();
  const stats = createFrameStats();
  applyFrame(view.buffer, store, stats);
  assert.deepEqual(stats, { records: 4, applied: 1, skipped: 3 });
  assert.equal(store.count, 1);
  assert.equal(store.slotOf(ids[0]), 0);
});

test('removing a node moves the last one into its slot', () => {
  const { buffer, expected } = load('full');
  const store = new NodeStore();
  applyFrame(buffer, store, createFrameStats());
  const n = store.count;
  const first = expected.node_ids[0];
  const last = expected.node_ids[n - 1];
  const version = store.version;
  assert.equal(store.remove(first), 0);
  assert.equal(store.count, n - 1);
  assert.equal(store.slotOf(first), -1);
  assert.equal(store.slotOf(last), 0);
  assert.equal(store.target[0], Math.fround(expected.positions[n - 1][0]));
  assert.ok(store.version > version);
  assert.equal(store.remove(first), -1);
  store.clear();
  assert.equal(store.count, 0);
  assert.equal(store.slotOf(last), -1);
});

test('easing closes the gap between shown and streamed positions', () => {
  const store = new NodeStore();
  const slot = store.ensure(0x80000001);
  store.target.set([10, -10, 4], slot * 3);
  store.ease(0.5);
  assert.deepEqual(Array.from(store.shown.subarray(0, 3)), [5, -5, 2]);
});
