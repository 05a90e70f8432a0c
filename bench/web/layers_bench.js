// Runs in Chromium, driven by bench/web_decode.py: the page's per-render-frame JavaScript
// (ease positions, fill instance and link buffers) for N agents and N links, without the GPU.
import * as THREE from 'three';
import { AgentLayer } from '/js/agent-layer.js';
import { applyFrame, createFrameStats } from '/js/decoder.js';
import { LinkLayer } from '/js/link-layer.js';
import { NodeStore } from '/js/node-store.js';
import { SwarmModel } from '/js/swarm-model.js';

const TYPES = ['queen', 'coordinator', 'researcher', 'coder', 'analyst', 'architect', 'tester', 'reviewer', 'optimizer', 'documenter', 'monitor', 'specialist'];
const STATUSES = ['active', 'busy', 'idle', 'initializing', 'error'];

/** @param {ArrayBuffer} buffer  a frame whose ids are AGENT_FLAG | 0..n-1 @param {number} n */
export function run(buffer, n, reps) {
  const store = new NodeStore(n);
  const model = new SwarmModel(store, () => 1000);
  const agents = [];
  const links = [];
  for (let i = 0; i < n; i++) {
    const nodeId = (0x80000000 | i) >>> 0;
    agents.push({ id: `a${i}`, node_id: nodeId, name: `agent-${i}`, type: TYPES[i % TYPES.length], status: STATUSES[i % STATUSES.length], health: (i * 7) % 100, workload: (i % 10) / 10, token_rate: i % 300, current_task: null });
    const j = (i * 7919 + 1) % n;
    links.push({ source: `a${i}`, target: `a${j}`, source_node: nodeId, target_node: (0x80000000 | j) >>> 0, intensity: (i % 13) / 13, message_count: 1, last_message_at: 999.5 });
  }
  model.applyAgents({ type: 'agents', full: true, seq: 1, agents, links, link_decay_s: 20 }, 0);
  applyFrame(buffer, store, createFrameStats());
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(55, 16 / 9, 0.1, 50_000);
  camera.position.set(0, 300, 900);
  camera.lookAt(0, 0, 0);
  camera.updateMatrixWorld();
  const agentLayer = new AgentLayer(scene, model);
  const linkLayer = new LinkLayer(scene, model);
  const frame = (t) => {
    store.ease(0.2);
    agentLayer.update(camera, t);
    linkLayer.update(t, 1000 + t / 1000, Infinity, camera.position);
  };
  for (let i = 0; i < Math.max(20, reps); i++) frame(i);
  const means = [];
  for (let b = 0; b < 7; b++) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) frame(i * 16);
    means.push((performance.now() - start) / reps);
  }
  means.sort((a, b) => a - b);
  const drawn = agentLayer.drawn;
  const linksDrawn = linkLayer.drawn;
  agentLayer.dispose();
  linkLayer.dispose();
  return { records: n, frameJs: means[3], drawn, links: linksDrawn };
}
