/**
 * The swarm as the page knows it: agent metadata and links from the stream's JSON
 * messages, beside the NodeStore that holds positions from its binary frames.
 *
 * Link intensity arrives already decayed to the moment it was sent; the page decays it
 * further with `link_decay_s` from then on, so a silent link fades without new messages.
 */

/**
 * @typedef {object} Agent  one agent as the stream's `agents` messages carry it
 * @property {string} id
 * @property {number} node_id
 * @property {string} name
 * @property {string} type
 * @property {string} status
 * @property {number} health
 * @property {number} workload
 * @property {number} token_rate
 * @property {string | null} current_task
 */

/**
 * @typedef {object} LinkState  one communication link
 * @property {string} source           agent id
 * @property {string} target           agent id
 * @property {number} sourceNode       wire id
 * @property {number} targetNode       wire id
 * @property {number} intensity        as sent
 * @property {number} receivedAt       server-clock seconds when it was sent (estimated)
 * @property {number | null} lastMessageAt  server-clock seconds of the link's latest message; null for a
 *                                     link seen only as structure (a shared task), which never pulses
 * @property {number} messageCount
 * @property {boolean} inferred        guessed from agent types, not seen in the orchestrator's data
 * @property {number} pulseAt          page-clock ms of the latest message seen fresh, or -Infinity
 */

/** A message younger than this (server seconds) when it arrives still pulses. */
const FRESH_S = 2.0;

/** @param {string} a @param {string} b @returns {string} the unordered pair's key */
export function linkKey(a, b) {
  return a <= b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

export class SwarmModel {
  /**
   * @param {import('./node-store.js').NodeStore} nodes
   * @param {() => number} serverNow  the server's clock, seconds
   */
  constructor(nodes, serverNow) {
    this.nodes = nodes;
    this.serverNow = serverNow;
    /** @type {Map<number, Agent>} by wire id */
    this.agents = new Map();
    /** @type {Map<string, LinkState>} by `linkKey` */
    this.links = new Map();
    /** @type {number} seconds; from the snapshot */
    this.linkDecayS = 20;
    /** @type {number} bumped when any agent's metadata changes */
    this.agentVersion = 0;
    /** @type {number} bumped when a link is added, removed or updated */
    this.linkVersion = 0;
    /** @type {number} the seq of the latest message applied */
    this.seq = -1;
  }

  /**
   * Apply an `agents` message (`full` replaces everything; otherwise `removed` first, then upserts).
   * @param {any} message
   * @param {number} nowMs  page clock, for pulses
   */
  applyAgents(message, nowMs) {
    if (typeof message.seq === 'number') this.seq = message.seq;
    if (message.full) {
      this.agents.clear();
      this.links.clear();
      this.nodes.clear();
      if (typeof message.link_decay_s === 'number' && message.link_decay_s > 0) this.linkDecayS = message.link_decay_s;
    }
    for (const nodeId of message.removed ?? []) {
      this.agents.delete(nodeId);
      this.nodes.remove(nodeId);
    }
    for (const pair of message.links_removed ?? []) this.links.delete(linkKey(pair[0], pair[1]));
    for (const agent of message.agents ?? []) this.agents.set(agent.node_id, agent);
    const sentAt = this.serverNow();
    for (const link of message.links ?? []) this._upsertLink(link, sentAt, nowMs);
    if (message.removed?.length) this._dropOrphanLinks();
    this.agentVersion++;
    this.linkVersion++;
  }

  /** @param {any} link @param {number} sentAt @param {number} nowMs */
  _upsertLink(link, sentAt, nowMs) {
    const key = linkKey(link.source, link.target);
    const known = this.links.get(key);
    const at = link.last_message_at ?? null;
    const fresh = at !== null && (known ? known.lastMessageAt === null || at > known.lastMessageAt : sentAt - at < FRESH_S);
    const state = known ?? /** @type {LinkState} */ ({ pulseAt: -Infinity });
    state.source = link.source;
    state.target = link.target;
    state.sourceNode = link.source_node;
    state.targetNode = link.target_node;
    state.intensity = link.intensity;
    state.receivedAt = sentAt;
    state.lastMessageAt = at;
    state.messageCount = link.message_count;
    state.inferred = link.inferred === true;
    if (fresh) state.pulseAt = nowMs;
    if (!known) this.links.set(key, state);
  }

  _dropOrphanLinks() {
    for (const [key, link] of this.links) {
      if (!this.agents.has(link.sourceNode) || !this.agents.has(link.targetNode)) this.links.delete(key);
    }
  }

  /**
   * A link's intensity now, decayed since it was sent.
   * @param {LinkState} link @param {number} serverNow seconds
   */
  intensityOf(link, serverNow) {
    return link.intensity * Math.exp(-Math.max(0, serverNow - link.receivedAt) / this.linkDecayS);
  }

  /** @param {string} query @param {number} limit @returns {Agent[]} agents whose name contains `query` */
  search(query, limit) {
    const needle = query.trim().toLowerCase();
    /** @type {Agent[]} */
    const found = [];
    if (!needle) return found;
    for (const agent of this.agents.values()) {
      const name = agent.name.toLowerCase();
      if (name === needle) found.unshift(agent);
      else if (name.includes(needle)) found.push(agent);
      if (found.length >= limit * 4) break;
    }
    return found.slice(0, limit);
  }

  /** @param {number} nodeId @returns {LinkState[]} */
  linksOf(nodeId) {
    /** @type {LinkState[]} */
    const out = [];
    for (const link of this.links.values()) {
      if (link.sourceNode === nodeId || link.targetNode === nodeId) out.push(link);
    }
    return out;
  }
}
