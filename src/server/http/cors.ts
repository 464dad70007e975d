// Which browser origins may call the server (CORS): `*`, one origin, or a list of them. A list is
// answered with the one origin of the request that matches (browsers accept exactly one), with
// `Vary: Origin` so caches keep the answers apart. Validated once, at createServer.

import { invalidArg } from '../../errors.js';

/** The resolved `corsOrigin` option. */
export type CorsPolicy =
  | { readonly any: true }
  | { readonly any: false; readonly origins: ReadonlySet<string> };

/**
 * `'*'`, an origin (`https://app.example`, `http://localhost:5173`), or a comma-separated list (or
 * an array) of origins. An origin is a scheme, a host and an optional port, exactly as a browser
 * sends it in `Origin`: no path (not even a trailing slash), no query, lower-case host.
 */
export function resolveCors(option: string | readonly string[] | undefined): CorsPolicy | undefined {
  if (option === undefined) return undefined;
  const list = (typeof option === 'string' ? option.split(',') : [...option]).map((o) => o.trim());
  if (list.length === 1 && list[0] === '*') return { any: true };
  const origins = new Set<string>();
  for (const origin of list) {
    if (origin === '*') throw invalidArg('`corsOrigin` is `*` alone or a list of origins, not both');
    let normalized: string | undefined;
    try {
      const url = new URL(origin);
      normalized = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
    } catch {
      normalized = undefined;
    }
    if (normalized !== origin) {
      throw invalidArg(
        `\`corsOrigin\` must be \`*\` or origins like https://app.example (scheme, host, optional port; no path or trailing slash), received ${JSON.stringify(origin.slice(0, 100))}` +
          (normalized !== undefined && normalized !== 'null' ? `; did you mean ${normalized}?` : ''),
      );
    }
    origins.add(origin);
  }
  return { any: false, origins };
}

/**
 * The `Access-Control-Allow-Origin` value for a request from `origin`, or undefined when not allowed:
 * `*`, the one allowed origin, or the request's own origin when it is one of several allowed.
 */
export function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (policy.any) return '*';
  if (policy.origins.size === 1) return policy.origins.values().next().value;
  return origin !== undefined && policy.origins.has(origin) ? origin : undefined;
}

/** Whether answers depend on the request's `Origin` (several origins allowed): `Vary: Origin`. */
export function variesByOrigin(policy: CorsPolicy): boolean {
  return !policy.any && policy.origins.size > 1;
}
