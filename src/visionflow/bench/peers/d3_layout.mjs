// Runs d3-force-3d on a graph read as JSON from stdin and prints the layout and its time as JSON.
// Called by visionflow.bench.physics; the forces mirror a plain force-directed layout:
// many-body repulsion (Barnes-Hut, d3's default theta 0.9), link springs and centring.
//
//   node d3_layout.mjs NODE_MODULES < request.json
//
// d3-force-3d is loaded from NODE_MODULES (a node_modules directory, or the prefix npm installed
// into), not from beside this script: the script ships inside the Python package, where no
// node_modules is, and ES modules ignore NODE_PATH.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
if (!modules) {
  process.stderr.write("usage: node d3_layout.mjs NODE_MODULES < request.json\n");
  process.exit(2);
}
const entry = createRequire(import.meta.url).resolve("d3-force-3d", { paths: [modules] });
const { forceSimulation, forceManyBody, forceLink, forceCenter } = await import(pathToFileURL(entry).href);

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
