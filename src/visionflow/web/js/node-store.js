/**
 * Where every streamed node's numbers live: flat typed arrays indexed by a dense slot.
 *
 * A node id is a u32 whose bit 31 marks an agent and bit 30 a knowledge node; the low
 * 30 bits are a small integer the server reuses, so a lookup table indexed by those bits
 * (one per kind) maps an id to its slot without a Map or any allocation per record.
 * The server keeps those integers small; a stray large id falls back to a Map.
 * Removing a node moves the last slot into the hole, so slots stay dense and loops over
 * `0..count` touch only live nodes.
 */

export const AGENT_FLAG = 0x80000000;
export const KNOWLEDGE_FLAG = 0x40000000;
export const ID_MASK = 0x3fffffff;
const KIND_SHIFT = 30;
const NO_SLOT = -1;
const MAX_TABLE = 1 << 21; // ids above this (8 MB of table per kind) are looked up in a Map instead

/** @param {number} nodeId @returns {number} which lookup table: 2 agent, 1 knowledge node, 0 other */
function kindIndex(nodeId) {
  return nodeId >>> 31 ? 2 : (nodeId >>> KIND_SHIFT) & 1;
}

export class NodeStore {
  /** @param {number} [capacity] initial number of slots */
  constructor(capacity = 1024) {
    /** @type {number} live nodes, in slots 0..count-1 */
    this.count = 0;
    /** @type {number} bumped whenever a node is added or removed (layers rebuild on change) */
    this.version = 0;
    /** @type {Uint32Array} the wire id in each slot */
    this.ids = new Uint32Array(capacity);
    /** @type {Float32Array} latest streamed position, xyz per slot */
    this.target = new Float32Array(capacity * 3);
    /** @type {Float32Array} position on screen, eased toward `target` every render frame */
    this.shown = new Float32Array(capacity * 3);
    /** @type {Float32Array} latest streamed velocity, xyz per slot */
    this.velocity = new Float32Array(capacity * 3);
    /** @type {Uint8Array} 1 once the slot has had a position (new nodes jump, not glide) */
    this.placed = new Uint8Array(capacity);
    /** @type {Int32Array[]} id low bits -> slot, one table per kind (plain, knowledge, agent) */
    this._slotOf = [new Int32Array(256).fill(NO_SLOT), new Int32Array(256).fill(NO_SLOT), new Int32Array(256).fill(NO_SLOT)];
    /** @type {Map<number, number>} wire id -> slot, for ids too large for the tables */
    this._overflow = new Map();
  }

  /** @returns {number} slots allocated */
  get capacity() {
    return this.ids.length;
  }

  /** @param {number} nodeId @returns {number} the node's slot, or -1 */
  slotOf(nodeId) {
    const table = this._table(nodeId);
    const index = nodeId & ID_MASK;
    if (index < table.length) return table[index];
    return index < MAX_TABLE ? NO_SLOT : this._overflow.get(nodeId >>> 0) ?? NO_SLOT;
  }

  /**
   * The node's slot, adding the node when it is new.
   * @param {number} nodeId  as u32, or the same 32 bits as a signed integer
   * @returns {number}
   */
  ensure(nodeId) {
    const kind = kindIndex(nodeId);
    const index = nodeId & ID_MASK;
    let table = this._slotOf[kind];
    if (index < table.length && table[index] !== NO_SLOT) return table[index];
    if (index >= MAX_TABLE) {
      const known = this._overflow.get(nodeId >>> 0);
      if (known !== undefined) return known;
    } else if (index >= table.length) table = this._growTable(kind, index);
    if (this.count === this.ids.length) this._grow(this.count * 2);
    const slot = this.count++;
    if (index >= MAX_TABLE) this._overflow.set(nodeId >>> 0, slot);
    else table[index] = slot;
    this.ids[slot] = nodeId;
    this.placed[slot] = 0;
    this.version++;
    return slot;
  }

  /**
   * Drop a node; the last slot moves into its place.
   * @param {number} nodeId
   * @returns {number} the freed slot (now holding what was the last node), or -1 if unknown
   */
  remove(nodeId) {
    const slot = this.slotOf(nodeId);
    if (slot === NO_SLOT) return NO_SLOT;
    const last = --this.count;
    this._setSlot(nodeId, NO_SLOT);
    if (slot !== last) {
      const moved = this.ids[last];
      this.ids[slot] = moved;
      this._setSlot(moved, slot);
      this.target.copyWithin(slot * 3, last * 3, last * 3 + 3);
      this.shown.copyWithin(slot * 3, last * 3, last * 3 + 3);
      this.velocity.copyWithin(slot * 3, last * 3, last * 3 + 3);
      this.placed[slot] = this.placed[last];
    }
    this.version++;
    return slot;
  }

  /**
   * Make room for `extra` more nodes now, so a frame's loop never sees its arrays replaced.
   * @param {number} extra
   */
  reserve(extra) {
    const needed = this.count + extra;
    if (needed > this.ids.length) this._grow(Math.max(needed, this.ids.length * 2));
  }

  /** Forget every node (a fresh snapshot follows). */
  clear() {
    for (let slot = 0; slot < this.count; slot++) {
      const id = this.ids[slot];
      if ((id & ID_MASK) < MAX_TABLE) this._table(id)[id & ID_MASK] = NO_SLOT;
    }
    this._overflow.clear();
    this.count = 0;
    this.version++;
  }

  /**
   * Ease shown positions toward the streamed ones.
   * @param {number} alpha 0..1, the share of the remaining distance covered this frame
   */
  ease(alpha) {
    const shown = this.shown;
    const target = this.target;
    const n = this.count * 3;
    for (let i = 0; i < n; i++) shown[i] += (target[i] - shown[i]) * alpha;
  }

  /** @param {number} nodeId @param {number} slot  NO_SLOT to forget the id */
  _setSlot(nodeId, slot) {
    const index = nodeId & ID_MASK;
    if (index < MAX_TABLE) this._table(nodeId)[index] = slot;
    else if (slot === NO_SLOT) this._overflow.delete(nodeId >>> 0);
    else this._overflow.set(nodeId >>> 0, slot);
  }

  /** @param {number} nodeId @returns {Int32Array} */
  _table(nodeId) {
    return this._slotOf[kindIndex(nodeId)];
  }

  /** @param {number} kind @param {number} index @returns {Int32Array} */
  _growTable(kind, index) {
    const old = this._slotOf[kind];
    let size = old.length;
    while (size <= index) size *= 2;
    const table = new Int32Array(size).fill(NO_SLOT);
    table.set(old);
    this._slotOf[kind] = table;
    return table;
  }

  /** @param {number} capacity */
  _grow(capacity) {
    const copy = (/** @type {any} */ old, /** @type {number} */ size) => {
      const grown = new old.constructor(size);
      grown.set(old);
      return grown;
    };
    this.ids = copy(this.ids, capacity);
    this.target = copy(this.target, capacity * 3);
    this.shown = copy(this.shown, capacity * 3);
    this.velocity = copy(this.velocity, capacity * 3);
    this.placed = copy(this.placed, capacity);
  }
}
