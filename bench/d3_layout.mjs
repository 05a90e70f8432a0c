// Runs d3-force-3d on a graph read as JSON from stdin and prints the layout and its time as JSON.
// Called by visionflow.physics.benchmark; the forces mirror a plain force-directed layout:
// many-body repulsion (Barnes-Hut, d3's default theta 0.9), link springs and centring.
import { forceSimulation, forceManyBody, forceLink, forceCenter } from "d3-force-3d";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const nodes = [];
for (let i = 0; i < request.n; i++) {
  nodes.push({ index: i, x: request.start[3 * i], y: request.start[3 * i + 1], z: request.start[3 * i + 2] });
}
const links = request.src.map((s, k) => ({ source: s, target: request.dst[k] }));
const simulation = forceSimulation(nodes, 3)
  .force("charge", forceManyBody())
  .force("link", forceLink(links))
  .force("center", forceCenter())
  .stop();
const started = process.hrtime.bigint();
simulation.tick(request.iterations);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
const positions = new Array(3 * request.n);
nodes.forEach((node, i) => {
  positions[3 * i] = node.x;
  positions[3 * i + 1] = node.y;
  positions[3 * i + 2] = node.z;
});
process.stdout.write(JSON.stringify({ ms, positions }));
