// The stream connection's states, back-off and listener symmetry, with a stand-in WebSocket.
import assert from 'node:assert/strict';
import { test } from 'node:test';

globalThis.window ??= globalThis; // the module schedules through window.setTimeout/setInterval

class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  /** @type {FakeSocket[]} */
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.listeners = new Map();
    this.sent = [];
    FakeSocket.made.push(this);
  }
  addEventListener(type, fn) { this.listeners.set(type, fn); }
  removeEventListener(type, fn) { if (this.listeners.get(type) === fn) this.listeners.delete(type); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = FakeSocket.CLOSED; }
  fire(type, event = {}) { this.listeners.get(type)?.(event); }
}
globalThis.WebSocket = FakeSocket;

const { StreamConnection, retryDelayMs } = await import('../../src/visionflow/web/js/connection.js');

test('the retry delay doubles from 0.5 s to a 10 s ceiling, with ±20 % jitter', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9, 100].map((a) => retryDelayMs(a, 0.5)), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(retryDelayMs(0, 0), 400);
  assert.ok(retryDelayMs(0, 0.999999) < 600);
});

test('connect, stream, lose the server, wait, retry, and disconnect cleanly', () => {
  const states = [];
  const frames = [];
  const messages = [];
  const connection = new StreamConnection({
    onFrame: (data) => frames.push(data),
    onMessage: (message) => messages.push(message),
    onState: (state) => states.push(state),
  });
  connection.connect('ws://example.test:3002/ws');
  const first = FakeSocket.made.at(-1);
  assert.equal(first.url, 'ws://example.test:3002/ws');
  assert.equal(first.binaryType, 'arraybuffer');
  first.readyState = FakeSocket.OPEN;
  first.fire('open');
  first.fire('message', { data: '{"type":"frame","seq":41,"full":true,"records":2}' });
  first.fire('message', { data: new ArrayBuffer(56) });
  first.fire('message', { data: 'not json' });
  assert.equal(frames.length, 1);
  assert.deepEqual(messages.map((m) => m.type), ['frame']);
  assert.equal(connection.lastSeq, 41);
  assert.equal(first.sent[0].type, 'ping');
  assert.equal(first.sent[0].seq, 41, 'the ping echoes the frame seq');
  first.fire('message', { data: JSON.stringify({ type: 'pong', seq: 41, t: first.sent[0].t }) });
  assert.ok(connection.rttMs !== null && connection.rttMs >= 0);

  first.readyState = FakeSocket.CLOSED;
  first.fire('close');
  assert.equal(connection.state, 'waiting');
  assert.equal(first.listeners.size, 0, 'every listener added is removed');
  assert.equal(connection.attempt, 1);
  const wait = connection.retryAt - performance.now();
  assert.ok(wait > 300 && wait <= 600, `first retry after ~0.5 s, got ${wait}`);

  connection.disconnect();
  assert.equal(connection.state, 'idle');
  assert.deepEqual(states, ['connecting', 'open', 'waiting', 'idle']);
  assert.equal(FakeSocket.made.length, 1, 'no retry after disconnect');
});

test('failed attempts back off further until one delivers data', () => {
  const connection = new StreamConnection({ onFrame() {}, onMessage() {}, onState() {} });
  connection.connect('ws://example.test/ws');
  for (let i = 0; i < 3; i++) {
    const socket = FakeSocket.made.at(-1);
    socket.fire('close');
    connection._open(); // what the retry timer does
  }
  assert.equal(connection.attempt, 3);
  const socket = FakeSocket.made.at(-1);
  socket.readyState = FakeSocket.OPEN;
  socket.fire('open');
  socket.fire('message', { data: new ArrayBuffer(0) });
  socket.fire('close');
  assert.equal(connection.attempt, 1, 'a connection that delivered data resets the back-off');
  connection.dispose();
  assert.equal(connection.state, 'idle');
});
