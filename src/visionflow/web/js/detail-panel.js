/**
 * The detail panel of the selected agent: every field `/api/bots/data` reports for it
 * (refreshed every 2 s while open), its current task, and its links with the agents at
 * their other ends, from the live stream.
 */

import { apiUrl } from './config.js';

const REFRESH_MS = 2000;
const MAX_LINKS = 8; // the strongest; the rest are summarised so the fields stay in view
/** Fields shown in the header or the task box rather than the table. */
const HEADLINE = new Set(['name', 'current_task']);

/** @param {string} key @param {unknown} value @returns {string} */
function formatValue(key, value) {
  if (value === null || value === undefined) return '–';
  if (key.endsWith('_at') && typeof value === 'number' && value > 0) return new Date(value * 1000).toLocaleString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === 'object') {
    const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
    if (entries.length === 0) return '{}';
    return entries.map(([k, v]) => `${k}: ${typeof v === 'number' ? v.toFixed(2) : JSON.stringify(v)}`).join('  ');
  }
  return String(value);
}

export class DetailPanel {
  /**
   * @param {HTMLElement} root
   * @param {import('./swarm-model.js').SwarmModel} model
   * @param {() => number} serverNow  seconds
   * @param {(nodeId: number) => void} onPick  an agent at the far end of a link was clicked
   */
  constructor(root, model, serverNow, onPick) {
    this.root = root;
    this.model = model;
    this.serverNow = serverNow;
    this.onPick = onPick;
    /** @type {number | null} wire id of the agent shown */
    this.nodeId = null;
    /** @type {Record<string, unknown> | null} the agent as the API last reported it */
    this.apiAgent = null;
    this._timer = 0;
    this._name = /** @type {HTMLElement} */ (root.querySelector('[data-detail=name]'));
    this._subtitle = /** @type {HTMLElement} */ (root.querySelector('[data-detail=subtitle]'));
    this._task = /** @type {HTMLElement} */ (root.querySelector('[data-detail=task]'));
    this._fields = /** @type {HTMLElement} */ (root.querySelector('[data-detail=fields]'));
    this._links = /** @type {HTMLElement} */ (root.querySelector('[data-detail=links]'));
    this._close = /** @type {HTMLElement} */ (root.querySelector('[data-detail=close]'));
    this._onClose = () => this.close();
    this._onLinkClick = this._linkClick.bind(this);
    this._onTimer = () => void this.refresh();
  }

  connect() {
    this._close.addEventListener('click', this._onClose);
    this._links.addEventListener('click', this._onLinkClick);
  }

  disconnect() {
    this._close.removeEventListener('click', this._onClose);
    this._links.removeEventListener('click', this._onLinkClick);
    clearInterval(this._timer);
  }

  dispose() {
    this.disconnect();
  }

  /** @param {number} nodeId */
  open(nodeId) {
    this.nodeId = nodeId;
    this.apiAgent = null;
    this.root.hidden = false;
    this.render();
    clearInterval(this._timer);
    this._timer = window.setInterval(this._onTimer, REFRESH_MS);
    void this.refresh();
  }

  close() {
    this.nodeId = null;
    this.root.hidden = true;
    clearInterval(this._timer);
  }

  /** Fetch the agent's full record from the API, then redraw. */
  async refresh() {
    const nodeId = this.nodeId;
    if (nodeId === null) return;
    try {
      const response = await fetch(apiUrl('api/bots/data'), { cache: 'no-store' });
      const body = await response.json();
      if (this.nodeId !== nodeId) return;
      this.apiAgent = body.agents.find((/** @type {any} */ a) => a.node_id === nodeId) ?? null;
    } catch {
      // the server is away; keep what the stream tells us
    }
    this.render();
  }

  render() {
    const nodeId = this.nodeId;
    if (nodeId === null) return;
    const live = this.model.agents.get(nodeId);
    /** @type {Record<string, unknown>} */
    const agent = { ...(this.apiAgent ?? {}), ...(live ?? {}) };
    if (this.apiAgent) {
      agent.position = this.apiAgent.position;
      agent.velocity = this.apiAgent.velocity;
    }
    const doc = this.root.ownerDocument;
    this._name.textContent = String(agent.name ?? `node ${nodeId}`);
    this._subtitle.textContent = live ? `${live.type} · ${live.status}` : 'no longer in the swarm';
    this.root.dataset.status = String(live?.status ?? 'offline');
    this._task.textContent = agent.current_task ? String(agent.current_task) : 'no current task';
    const rows = Object.keys(agent).filter((k) => !HEADLINE.has(k)).sort().map((key) => {
      const row = doc.createElement('tr');
      const name = doc.createElement('th');
      name.textContent = key;
      const value = doc.createElement('td');
      value.textContent = formatValue(key, agent[key]);
      row.append(name, value);
      return row;
    });
    this._fields.replaceChildren(...rows);
    const now = this.serverNow();
    const all = this.model.linksOf(nodeId).sort((a, b) => b.intensity - a.intensity);
    const links = all.slice(0, MAX_LINKS);
    this._links.replaceChildren(...links.map((link) => {
      const peer = link.sourceNode === nodeId ? link.targetNode : link.sourceNode;
      const item = doc.createElement('li');
      const button = doc.createElement('button');
      button.type = 'button';
      button.dataset.node = String(peer);
      button.textContent = this.model.agents.get(peer)?.name ?? `node ${peer}`;
      const info = doc.createElement('span');
      const last = link.lastMessageAt === null
        ? 'structure, no messages'
        : `${link.messageCount} msgs · ${Math.max(0, now - link.lastMessageAt).toFixed(0)} s ago`;
      info.textContent = ` intensity ${this.model.intensityOf(link, now).toFixed(2)} · ${last}`;
      item.append(button, info);
      return item;
    }));
    if (all.length === 0 || all.length > MAX_LINKS) {
      const note = doc.createElement('li');
      note.className = 'more';
      note.textContent = all.length === 0 ? 'no links' : `+ ${all.length - MAX_LINKS} weaker links`;
      this._links.append(note);
    }
  }

  /** @param {MouseEvent} event */
  _linkClick(event) {
    const button = /** @type {HTMLElement} */ (event.target).closest('button');
    if (button?.dataset.node) this.onPick(Number(button.dataset.node));
  }
}
