/**
 * The heads-up display: render FPS, frames and bytes received a second, agent and link
 * counts, and the connection's state. Counters are bumped by the caller as things
 * happen; the DOM is written four times a second, not every frame.
 */

const REFRESH_MS = 250;
const WINDOW_MS = 1000;

/** @typedef {import('./connection.js').StreamConnection} StreamConnection */

/** @param {number} bytes */
function formatBytes(bytes) {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB/s`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB/s`;
  return `${bytes.toFixed(0)} B/s`;
}

export class Hud {
  /** @param {HTMLElement} root  holds elements with `data-hud="..."` */
  constructor(root) {
    this.root = root;
    /** @type {Record<string, HTMLElement>} */
    this._fields = {};
    for (const el of root.querySelectorAll('[data-hud]')) this._fields[/** @type {HTMLElement} */ (el).dataset.hud ?? ''] = /** @type {HTMLElement} */ (el);
    this.renderFrames = 0;
    this.streamFrames = 0;
    this.bytes = 0;
    this.badFrames = 0;
    this._windowStart = performance.now();
    this._lastPaint = 0;
    /** @type {Record<string, number>} rates over the last window */
    this.rates = { fps: 0, framesPerS: 0, bytesPerS: 0, frameMs: 0 };
    this._frameMs = 0;
  }

  /** @param {number} byteCount @param {boolean} isFrame  a binary frame, rather than a text message */
  countMessage(byteCount, isFrame) {
    this.bytes += byteCount;
    if (isFrame) this.streamFrames++;
  }

  /**
   * Called once per render frame.
   * @param {number} now page clock, ms
   * @param {{agents: number, links: number, drawn: number, connection: StreamConnection, paused: boolean, frameMs: number}} view
   */
  tick(now, view) {
    this.renderFrames++;
    this._frameMs += view.frameMs;
    const elapsed = now - this._windowStart;
    if (elapsed >= WINDOW_MS) {
      this.rates.fps = (this.renderFrames * 1000) / elapsed;
      this.rates.framesPerS = (this.streamFrames * 1000) / elapsed;
      this.rates.bytesPerS = (this.bytes * 1000) / elapsed;
      this.rates.frameMs = this.renderFrames ? this._frameMs / this.renderFrames : 0;
      this._frameMs = 0;
      this.renderFrames = 0;
      this.streamFrames = 0;
      this.bytes = 0;
      this._windowStart = now;
    }
    if (now - this._lastPaint < REFRESH_MS) return;
    this._lastPaint = now;
    const f = this._fields;
    this._set(f.fps, this.rates.fps.toFixed(0));
    this._set(f.frameMs, `${this.rates.frameMs.toFixed(1)} ms`);
    this._set(f.frames, this.rates.framesPerS.toFixed(0));
    this._set(f.bytes, formatBytes(this.rates.bytesPerS));
    this._set(f.agents, String(view.agents));
    this._set(f.links, String(view.links));
    this._set(f.drawn, String(view.drawn));
    const c = view.connection;
    this._set(f.rtt, c.rttMs === null ? '–' : `${c.rttMs.toFixed(1)} ms`);
    let label = c.state;
    if (c.state === 'waiting') label = `retry in ${Math.max(0, (c.retryAt - now) / 1000).toFixed(1)} s (#${c.attempt})`;
    else if (c.state === 'open') label = 'live';
    this._set(f.connection, label);
    if (f.connection) f.connection.dataset.state = c.state;
    this.root.dataset.paused = view.paused ? 'true' : 'false';
  }

  /** @param {HTMLElement | undefined} el @param {string} text */
  _set(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }
}
