/**
 * Where the stream is: from `/api/web/config`, overridable with `?ws=` in the page's URL.
 *
 * `?ws=` (or the config's `ws_url`) may be a full `ws://` / `wss://` URL or a path; a path
 * means "the same origin as the page", which is how the page works behind a proxy.
 * Otherwise the page connects to the stream port on the host it was loaded from.
 */

/**
 * @typedef {object} WebConfig
 * @property {number} ws_port
 * @property {string} ws_path
 * @property {string | null} ws_url
 * @property {number} link_decay_s
 * @property {number} server_time  seconds
 * @property {boolean} three
 */

/** @param {string} path @returns {URL} */
export function apiUrl(path) {
  return new URL(path.replace(/^\//, ''), document.baseURI);
}

/** @returns {Promise<WebConfig>} */
export async function loadConfig() {
  const response = await fetch(apiUrl('api/web/config'), { cache: 'no-store' });
  if (!response.ok) throw new Error(`config: HTTP ${response.status}`);
  return response.json();
}

/**
 * @param {WebConfig} config
 * @param {Location} location
 * @returns {string} the WebSocket URL
 */
export function streamUrl(config, location) {
  const secure = location.protocol === 'https:';
  const scheme = secure ? 'wss:' : 'ws:';
  const override = new URLSearchParams(location.search).get('ws') ?? config.ws_url;
  if (override) {
    if (/^wss?:\/\//.test(override)) return override;
    return `${scheme}//${location.host}${override.startsWith('/') ? '' : '/'}${override}`;
  }
  return `${scheme}//${location.hostname}:${config.ws_port}${config.ws_path}`;
}
