/** The legend: what each colour, shape, ring colour and link brightness means. */

import { HEALTH_BANDS, INFERRED_LINK_COLOR, LINK_COLOR, STATUS_COLORS, TYPE_SHAPES } from './palette.js';

/** @param {number} hex */
const css = (hex) => `#${hex.toString(16).padStart(6, '0')}`;

/** @param {HTMLElement} root */
export function renderLegend(root) {
  const doc = root.ownerDocument;
  root.replaceChildren();
  /** @param {string} title @param {[string, string, string][]} rows  [glyph, colour, label] @param {boolean} [wide] */
  const section = (title, rows, wide = false) => {
    const heading = doc.createElement('h3');
    heading.textContent = title;
    const list = doc.createElement('ul');
    if (wide) list.className = 'wide';
    for (const [glyph, color, label] of rows) {
      const item = doc.createElement('li');
      const mark = doc.createElement('span');
      mark.className = 'mark';
      mark.textContent = glyph;
      mark.style.color = color;
      item.append(mark, doc.createTextNode(label));
      list.append(item);
    }
    root.append(heading, list);
  };
  section('Status (colour)', Object.entries(STATUS_COLORS).map(([status, color]) => ['●', css(color), status]));
  section('Type (shape)', Object.entries(TYPE_SHAPES).map(([type, look]) => [look.glyph, '#d8e2f0', type]));
  section('Health (ring)', HEALTH_BANDS.map((band) => ['◯', css(band.color), band.label]));
  section('Links', [
    ['━', css(LINK_COLOR), 'brightness = message intensity'],
    ['━', css(INFERRED_LINK_COLOR), 'inferred (no messages seen)'],
    ['•', '#ffffff', 'pulse = fresh message'],
  ], true);
  const note = doc.createElement('p');
  note.className = 'note';
  note.textContent = 'Size grows with workload and token rate.';
  root.append(note);
}
