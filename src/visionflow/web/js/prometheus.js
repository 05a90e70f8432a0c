/**
 * Reads the few numbers the system panel needs out of Prometheus text exposition.
 * Sums every series of a name (labels ignored); comments and unknown lines are skipped.
 */

/**
 * @param {string} text  the body of /metrics
 * @param {string[]} names  metric names to collect
 * @returns {Map<string, number>} name -> sum over its series (absent names are missing)
 */
export function readMetrics(text, names) {
  const wanted = new Set(names);
  /** @type {Map<string, number>} */
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.charCodeAt(0) === 35) continue; // '#'
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const end = brace >= 0 && brace < space ? brace : space;
    if (end <= 0) continue;
    const name = line.slice(0, end);
    if (!wanted.has(name)) continue;
    const close = brace === end ? line.indexOf('}', brace) : end;
    const value = Number(line.slice(close + 1).trim().split(' ')[0]);
    if (Number.isFinite(value)) out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}
