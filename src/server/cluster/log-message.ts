// The messages of the cluster's log and their bytes. A `command` message carries one registry command
// (one request: an append of a whole batch is one message) and who published it; a `settings` message
// (the log's first) carries the registry options every node must share, because they decide outcomes
// (capacity, limits, the memory budget). Pure functions; no state.
//
//   command   {"o":"<node>/<boot>","r":<request>,"c":{<command>}}
//   settings  {"settings":{<StreamRegistryOptions>}}

import { stringifyJson } from '../../json.js';
import type { Command } from '../streams/commands.js';
import type { StreamRegistryOptions } from '../streams/stream-registry.js';

export type LogMessage =
  /** A command published by the process `origin` (its `request`-th). */
  | { kind: 'command'; origin: string; request: number; command: Command }
  | { kind: 'settings'; settings: StreamRegistryOptions };

const CLOSE = Buffer.from('}}');

/**
 * The bytes of a command message. `json`: the UTF-8 JSON text of the command's `data`, if at hand (an
 * append's request body): spliced in instead of serialising the events again.
 */
export function encodeCommand(
  origin: string,
  request: number,
  command: Command,
  json?: Uint8Array,
): Uint8Array {
  const head = `{"o":${JSON.stringify(origin)},"r":${request},"c":`;
  if (json !== undefined && 'data' in command) {
    // JSON.stringify leaves out a member whose value is undefined: the command without its data.
    const rest = stringifyJson({ ...command, data: undefined });
    const open = rest.length > 2 ? `${rest.slice(0, -1)},"data":` : '{"data":';
    return Buffer.concat([Buffer.from(head + open), json, CLOSE]);
  }
  return Buffer.from(`${head}${stringifyJson(command)}}`);
}

/** The bytes of the settings message. */
export function encodeSettings(settings: StreamRegistryOptions): Uint8Array {
  return Buffer.from(JSON.stringify({ settings }));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The message of `bytes`, or undefined for bytes that are not one (something else published on the
 * log's subject): every node skips those alike.
 */
export function decodeLogMessage(bytes: Uint8Array): LogMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.settings === 'object' && v.settings !== null) {
    return { kind: 'settings', settings: v.settings as StreamRegistryOptions };
  }
  const c = v.c as Record<string, unknown> | undefined;
  if (
    typeof v.o !== 'string' ||
    !Number.isSafeInteger(v.r) ||
    typeof c !== 'object' ||
    c === null ||
    typeof c.type !== 'string'
  ) {
    return undefined;
  }
  return { kind: 'command', origin: v.o, request: v.r as number, command: c as unknown as Command };
}

/** The registry options in which `ours` differs from the log's `settings`, as `name: log vs ours`. */
export function settingsDifferences(settings: StreamRegistryOptions, ours: StreamRegistryOptions): string[] {
  const out: string[] = [];
  for (const key of Object.keys(ours) as (keyof StreamRegistryOptions)[]) {
    if (settings[key] !== ours[key])
      out.push(`${key}: ${String(settings[key])} in the log, ${ours[key]} here`);
  }
  return out;
}
