/**
 * The system panel: the server's health (physics backend, tick time, clients, source)
 * from `/api/health` every 2 s, and a few counters from `/metrics` every 5 s.
 */

import { apiUrl } from './config.js';
import { readMetrics } from './prometheus.js';

const HEALTH_EVERY_MS = 2000;
const METRICS_EVERY_MS = 5000;
const STALE_AFTER_S = 5;
const METRIC_NAMES = [
  'visionflow_ticks_total',
  'visionflow_tick_overruns_total',
  'visionflow_frames_dropped_total',
  'visionflow_errors_total',
  'visionflow_websocket_latency_ms', // a gauge: mean round trip of the last 30 s
];

/** @param {unknown} value @param {number} digits */
const num = (value, digits) => (typeof value === 'number' ? value.toFixed(digits) : '–');

export class SystemPanel {
  /** @param {HTMLElement} root  holds elements with `data-sys="..."` */
  constructor(root) {
    this.root = root;
    /** @type {Record<string, HTMLElement>} */
    this._fields = {};
    for (const el of root.querySelectorAll('[data-sys]')) this._fields[/** @type {HTMLElement} */ (el).dataset.sys ?? ''] = /** @type {HTMLElement} */ (el);
    /** @type {any} the latest /api/health body */
    this.health = null;
    this._healthTimer = 0;
    this._metricsTimer = 0;
    this._onHealth = () => void this.refreshHealth();
    this._onMetrics = () => void this.refreshMetrics();
  }

  connect() {
    this._onHealth();
    this._onMetrics();
    this._healthTimer = window.setInterval(this._onHealth, HEALTH_EVERY_MS);
    this._metricsTimer = window.setInterval(this._onMetrics, METRICS_EVERY_MS);
  }

  disconnect() {
    clearInterval(this._healthTimer);
    clearInterval(this._metricsTimer);
  }

  dispose() {
    this.disconnect();
  }

  async refreshHealth() {
    let body;
    try {
      const response = await fetch(apiUrl('api/health'), { cache: 'no-store' });
      body = await response.json();
    } catch {
      this._set('status', 'unreachable');
      this.root.dataset.status = 'unreachable';
      return;
    }
    this.health = body;
    const physics = body.components?.physics ?? {};
    const source = body.components?.source ?? {};
    const stream = body.components?.stream ?? {};
    this.root.dataset.status = body.status;
    this._set('status', body.status);
    const backend = String(physics.backend ?? '?');
    const gpu = backend === 'cuda' || backend === 'gpu';
    this._set('backend', `${gpu ? 'GPU' : 'CPU'} (${backend}${physics.fallback ? `, fell back: ${physics.fallback_reason}` : ''})`);
    this._set('tick', `${num(physics.tick_ms, 2)} ms of ${num(1000 / (physics.tick_hz || 60), 1)} ms`);
    this._set('nodes', `${physics.nodes ?? '–'} nodes · ${physics.edges ?? '–'} edges${physics.settled ? ' · settled' : ''}`);
    this._set('clients', String(stream.clients ?? '–'));
    const age = source.data_age_s;
    let sourceText = `${source.name ?? 'source'}: `;
    if (!source.connected) sourceText += `disconnected${source.error ? ` (${source.error})` : ''}`;
    else if (typeof age === 'number' && age > STALE_AFTER_S) sourceText += `stale for ${age.toFixed(0)} s`;
    else sourceText += 'connected';
    this._set('source', sourceText);
    this._set('uptime', `${num(body.uptime_s, 0)} s · v${body.version ?? '?'}`);
  }

  async refreshMetrics() {
    let text;
    try {
      const response = await fetch(apiUrl('metrics'), { cache: 'no-store' });
      text = await response.text();
    } catch {
      return;
    }
    const m = readMetrics(text, METRIC_NAMES);
    const latency = m.get('visionflow_websocket_latency_ms');
    this._set('latency', latency === undefined ? '–' : `${latency.toFixed(1)} ms (30 s mean)`);
    this._set('ticks', `${m.get('visionflow_ticks_total') ?? '–'} (${m.get('visionflow_tick_overruns_total') ?? 0} over)`);
    this._set('dropped', String(m.get('visionflow_frames_dropped_total') ?? '–'));
    this._set('errors', String(m.get('visionflow_errors_total') ?? 0));
  }

  /** @param {string} name @param {string} text */
  _set(name, text) {
    const el = this._fields[name];
    if (el && el.textContent !== text) el.textContent = text;
  }
}
