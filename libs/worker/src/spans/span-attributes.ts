import { TRACE_SPAN_ATTRIBUTES_MAX_BYTES } from '@runyard/contracts';

/** A string attribute is cut to this many characters. */
const STRING_MAX_CHARS = 1024;
/** What is kept of the attributes: under the recorder's limit, with room for the marker. */
const KEPT_MAX_BYTES = TRACE_SPAN_ATTRIBUTES_MAX_BYTES - 64;

function bounded(value: unknown): unknown {
  if (typeof value === 'string') return value.length > STRING_MAX_CHARS ? `${value.slice(0, STRING_MAX_CHARS - 1)}…` : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value === 'boolean') return value;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  try {
    // Nested objects and arrays go as JSON; a value that cannot be serialised is named, not sent.
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return '[unserialisable]';
  }
}

/**
 * Span attributes within the recorder's limits: strings cut, keys kept in order while they fit, and
 * `attributes_truncated: true` when some did not. Never throws (a span must not fail its run).
 */
export function boundAttributes(attributes: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (attributes === undefined) return out;
  let bytes = 2;
  let truncated = false;
  for (const [key, raw] of Object.entries(attributes)) {
    const value = bounded(raw);
    if (value === undefined) continue;
    const cost = Buffer.byteLength(JSON.stringify({ [key.slice(0, 200)]: value }), 'utf8') - 1;
    if (bytes + cost > KEPT_MAX_BYTES) {
      truncated = true;
      continue;
    }
    out[key.slice(0, 200)] = value;
    bytes += cost;
  }
  if (truncated) out.attributes_truncated = true;
  return out;
}
