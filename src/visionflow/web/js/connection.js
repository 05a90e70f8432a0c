/**
 * The WebSocket to the binary stream: binary messages are frames, text messages JSON.
 *
 * Reconnects with exponential back-off (0.5 s doubling to 10 s, ±20 % jitter), reset once
 * a connection delivers data. Every ~1 s, right after a frame marker, it sends
 * `{"type":"ping","seq":S,"t":T}` echoing that frame's seq so the server can record its
 * latency; the pong gives the round trip.
 *
 * States:  idle --connect()--> connecting --open--> open --close--> waiting --timer--> connecting
 *          any --disconnect()--> idle
 */

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const PING_EVERY_MS = 1000;
const STALE_MARKER_MS = 2500;

/** @typedef {'idle' | 'connecting' | 'open' | 'waiting'} ConnectionState */

/**
 * How long to wait before reconnect attempt number `attempt` (0 for the first retry).
 * @param {number} attempt
 * @param {number} random  uniform in [0, 1), for the jitter
 * @returns {number} milliseconds
 */
export function retryDelayMs(attempt, random) {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 30));
  return base * (0.8 + 0.4 * random);
}

/**
 * @typedef {object} ConnectionHandlers
 * @property {(data: ArrayBuffer) => void} onFrame
 * @property {(message: any, bytes: number) => void} onMessage
 * @property {(state: ConnectionState) => void} onState
 */

export class StreamConnection {
  /** @param {ConnectionHandlers} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    /** @type {ConnectionState} */
    this.state = 'idle';
    /** @type {string} */
    this.url = '';
    /** @type {number} failed attempts since the last good connection */
    this.attempt = 0;
    /** @type {number} page-clock ms of the next try while waiting */
    this.retryAt = 0;
    /** @type {number} connections opened so far */
    this.opened = 0;
    /** @type {number | null} round trip of the latest ping, ms */
    this.rttMs = null;
    /** @type {number} seq of the latest frame marker */
    this.lastSeq = -1;
    /** @type {WebSocket | null} */
    this._socket = null;
    this._retryTimer = 0;
    this._pingTimer = 0;
    this._lastPingAt = -Infinity;
    this._lastMarkerAt = 0;
    this._gotData = false;
    this._onOpen = this._handleOpen.bind(this);
    this._onClose = this._handleClose.bind(this);
    this._onMessage = this._handleMessage.bind(this);
    this._onPingTimer = this._pingIfStale.bind(this);
  }

  /** @param {string} url */
  connect(url) {
    this.url = url;
    this.attempt = 0;
    this._open();
  }

  /** Close the socket and stop retrying; `connect` starts again. */
  disconnect() {
    clearTimeout(this._retryTimer);
    clearInterval(this._pingTimer);
    this._retryTimer = 0;
    this._pingTimer = 0;
    this._detach(true);
    this._setState('idle');
  }

  dispose() {
    this.disconnect();
  }

  /** @param {object} message */
  send(message) {
    if (this._socket && this._socket.readyState === WebSocket.OPEN) this._socket.send(JSON.stringify(message));
  }

  _open() {
    this._detach(true);
    this._setState('connecting');
    this._gotData = false;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this._scheduleRetry();
      return;
    }
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('open', this._onOpen);
    socket.addEventListener('close', this._onClose);
    socket.addEventListener('message', this._onMessage);
    this._socket = socket;
  }

  /** @param {boolean} close */
  _detach(close) {
    const socket = this._socket;
    if (!socket) return;
    socket.removeEventListener('open', this._onOpen);
    socket.removeEventListener('close', this._onClose);
    socket.removeEventListener('message', this._onMessage);
    if (close && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'client closing');
    this._socket = null;
  }

  _handleOpen() {
    this.opened++;
    this._setState('open');
    this._lastMarkerAt = performance.now();
    this._pingTimer = window.setInterval(this._onPingTimer, PING_EVERY_MS);
  }

  _handleClose() {
    clearInterval(this._pingTimer);
    this._pingTimer = 0;
    this._detach(false);
    this._scheduleRetry();
  }

  _scheduleRetry() {
    if (this._gotData) this.attempt = 0;
    const delay = retryDelayMs(this.attempt, Math.random());
    this.attempt++;
    this.retryAt = performance.now() + delay;
    this._setState('waiting');
    this._retryTimer = window.setTimeout(() => this._open(), delay);
  }

  /** @param {MessageEvent} event */
  _handleMessage(event) {
    this._gotData = true;
    const data = event.data;
    if (typeof data !== 'string') {
      this.handlers.onFrame(/** @type {ArrayBuffer} */ (data));
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn('stream: ignoring a text message that is not JSON');
      return;
    }
    if (message.type === 'frame' && typeof message.seq === 'number') {
      this.lastSeq = message.seq;
      this._lastMarkerAt = performance.now();
      if (this._lastMarkerAt - this._lastPingAt >= PING_EVERY_MS * 0.9) this._ping(message.seq);
    } else if (message.type === 'pong' && typeof message.t === 'number') {
      this.rttMs = performance.now() - message.t;
    }
    this.handlers.onMessage(message, data.length);
  }

  /** Without recent frame markers, ping anyway (with no seq, so no stale latency is recorded). */
  _pingIfStale() {
    const now = performance.now();
    if (now - this._lastMarkerAt > STALE_MARKER_MS && now - this._lastPingAt >= PING_EVERY_MS) this._ping(null);
  }

  /** @param {number | null} seq */
  _ping(seq) {
    this._lastPingAt = performance.now();
    this.send({ type: 'ping', seq, t: this._lastPingAt });
  }

  /** @param {ConnectionState} state */
  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState(state);
  }
}
