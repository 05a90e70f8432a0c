// The page's swarm model (JSON messages) and its Prometheus text reader.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NodeStore } from '../../src/visionflow/web/js/node-store.js';
import { readMetrics } from '../../src/visionflow/web/js/prometheus.js';
import { SwarmModel, linkKey } from '../../src/visionflow/web/js/swarm-model.js';

const A = (0x80000000 | 1) >>> 0, B = (0x80000000 | 2) >>> 0, C = (0x80000000 | 3) >>> 0;
const agent = (nodeId, name) => ({ id: name, node_id: nodeId, name, type: 'coder', status: 'active', health: 90, workload: 0.5, token_rate: 3, current_task: null });
const link = (s, t, sn, tn, at) => ({ source: s, target: t, source_node: sn, target_node: tn, intensity: 0.8, message_count: 3, last_message_at: at });

test('a snapshot replaces everything; changes apply removals first, then upserts', () => {
  let now = 1000;
  const store = new NodeStore();
  const model = new SwarmModel(store, () => now);
  store.ensure(0x80000009);
  model.applyAgents({ type: 'agents', full: true, seq: 5, agents: [agent(A, 'a'), agent(B, 'b')], links: [link('a', 'b', A, B, 990)], link_decay_s: 10 }, 0);
  assert.equal(store.count, 0, 'stale nodes are dropped on a snapshot');
  assert.equal(model.agents.size, 2);
  assert.equal(model.linkDecayS, 10);
  assert.equal(model.seq, 5);
  const ab = model.links.get(linkKey('b', 'a'));
  assert.ok(ab);
  assert.equal(ab.pulseAt, -Infinity, 'a message 10 s old does not pulse');
  assert.ok(Math.abs(model.intensityOf(ab, 1010) - 0.8 * Math.exp(-1)) < 1e-9, 'decays from when it was sent');

  store.ensure(B);
  model.applyAgents({ type: 'agents', full: false, seq: 6, removed: [B], agents: [agent(C, 'c')],
    links: [link('a', 'c', A, C, 999.5)], links_removed: [] }, 42);
  assert.deepEqual([...model.agents.keys()].sort(), [A, C].sort());
  assert.equal(store.slotOf(B), -1);
  assert.equal(model.links.has(linkKey('a', 'b')), false, 'links of removed agents go with them');
  assert.equal(model.links.get(linkKey('a', 'c')).pulseAt, 42, 'a fresh message pulses');

  now = 1001;
  model.applyAgents({ type: 'agents', full: false, removed: [], agents: [], links: [link('a', 'c', A, C, 1000.9)], links_removed: [] }, 77);
  assert.equal(model.links.get(linkKey('a', 'c')).pulseAt, 77, 'a newer message pulses again');
  model.applyAgents({ type: 'agents', full: false, removed: [], agents: [], links: [], links_removed: [['c', 'a']] }, 80);
  assert.equal(model.links.size, 0);
  assert.deepEqual(model.search('C', 5).map((a) => a.name), ['c']);
  assert.deepEqual(model.search('  ', 5), []);
});

test('metrics are summed over series and comments are skipped', () => {
  const text = [
    '# HELP visionflow_errors_total Errors by component.',
    '# TYPE visionflow_errors_total counter',
    'visionflow_errors_total{component="api"} 2.0',
    'visionflow_errors_total{component="stream"} 3.0',
    'visionflow_ticks_total 120.0',
    'visionflow_ticks_created 1.7e9',
    'visionflow_websocket_latency_ms_sum{le="x y"} 12.5 1700000000',
  ].join('\n');
  const m = readMetrics(text, ['visionflow_errors_total', 'visionflow_ticks_total', 'visionflow_websocket_latency_ms_sum', 'absent']);
  assert.equal(m.get('visionflow_errors_total'), 5);
  assert.equal(m.get('visionflow_ticks_total'), 120);
  assert.equal(m.get('visionflow_websocket_latency_ms_sum'), 12.5);
  assert.equal(m.has('absent'), false);
});

test('inferred links are kept apart from observed ones', () => {
  const store = new NodeStore();
  const model = new SwarmModel(store, () => 1000);
  const observed = link('a', 'b', A, B, 999);
  const guessed = { ...link('a', 'c', A, C, 999), inferred: true };
  model.applyAgents({ type: 'agents', full: true, seq: 1, agents: [agent(A, 'a'), agent(B, 'b'), agent(C, 'c')],
    links: [observed, guessed], link_decay_s: 20 }, 0);
  assert.equal(model.links.get(linkKey('a', 'b')).inferred, false);
  assert.equal(model.links.get(linkKey('a', 'c')).inferred, true);
  model.applyAgents({ type: 'agents', full: false, removed: [], agents: [], links: [{ ...guessed, inferred: false }], links_removed: [] }, 5);
  assert.equal(model.links.get(linkKey('a', 'c')).inferred, false, 'a message seen later makes it observed');
});

test('a link seen only as structure never pulses, and its first message does', () => {
  const now = 1000;
  const model = new SwarmModel(new NodeStore(), () => now);
  const structure = { ...link('a', 'b', A, B, null), message_count: 0, observed_at: 999.9 };
  model.applyAgents({ type: 'agents', full: true, seq: 1, agents: [agent(A, 'a'), agent(B, 'b')], links: [structure], link_decay_s: 10 }, 5);
  assert.equal(model.links.get(linkKey('a', 'b')).pulseAt, -Infinity, 'structure is not a message');
  model.applyAgents({ type: 'agents', full: false, removed: [], agents: [], links: [{ ...structure, observed_at: 1000 }], links_removed: [] }, 6);
  assert.equal(model.links.get(linkKey('a', 'b')).pulseAt, -Infinity, 'seeing it again is not a message either');
  model.applyAgents({ type: 'agents', full: false, removed: [], agents: [], links: [link('a', 'b', A, B, 999.95)], links_removed: [] }, 7);
  assert.equal(model.links.get(linkKey('a', 'b')).pulseAt, 7, 'the first real message pulses');
});
