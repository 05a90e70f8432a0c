/**
 * Search by name: matches appear under the box as you type; Enter or a click picks one.
 */

const MAX_RESULTS = 8;

export class SearchBox {
  /**
   * @param {HTMLInputElement} input
   * @param {HTMLElement} results
   * @param {import('./swarm-model.js').SwarmModel} model
   * @param {(nodeId: number) => void} onPick
   */
  constructor(input, results, model, onPick) {
    this.input = input;
    this.results = results;
    this.model = model;
    this.onPick = onPick;
    this._onInput = this._update.bind(this);
    this._onKey = this._key.bind(this);
    this._onClick = this._click.bind(this);
  }

  connect() {
    this.input.addEventListener('input', this._onInput);
    this.input.addEventListener('keydown', this._onKey);
    this.results.addEventListener('click', this._onClick);
  }

  disconnect() {
    this.input.removeEventListener('input', this._onInput);
    this.input.removeEventListener('keydown', this._onKey);
    this.results.removeEventListener('click', this._onClick);
  }

  dispose() {
    this.disconnect();
  }

  _update() {
    const doc = this.results.ownerDocument;
    const found = this.model.search(this.input.value, MAX_RESULTS);
    this.results.replaceChildren(...found.map((agent) => {
      const item = doc.createElement('button');
      item.type = 'button';
      item.dataset.node = String(agent.node_id);
      item.textContent = `${agent.name} · ${agent.type} · ${agent.status}`;
      return item;
    }));
    this.results.hidden = found.length === 0;
  }

  /** @param {KeyboardEvent} event */
  _key(event) {
    if (event.key === 'Escape') {
      this.input.value = '';
      this._update();
      this.input.blur();
    } else if (event.key === 'Enter') {
      const first = this.model.search(this.input.value, 1)[0];
      if (first) this._pick(first.node_id);
    }
  }

  /** @param {MouseEvent} event */
  _click(event) {
    const button = /** @type {HTMLElement} */ (event.target).closest('button');
    if (button?.dataset.node) this._pick(Number(button.dataset.node));
  }

  /** @param {number} nodeId */
  _pick(nodeId) {
    this.results.hidden = true;
    this.onPick(nodeId);
  }
}
