import type { TraceSpanNode } from '@runyard/contracts';
import type { StoredSpan } from './traces.repository.js';

/** Deeper spans are left out (and the tree marked truncated): a reply is nested JSON, and parsers have depth limits. */
export const TRACE_TREE_MAX_DEPTH = 64;

export interface TraceTree {
  roots: TraceSpanNode[];
  /** Some spans were left out: over the byte budget or too deep. */
  truncated: boolean;
}

function toNode(span: StoredSpan): TraceSpanNode {
  return {
    span_id: span.spanId,
    parent_span_id: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    status: span.status,
    status_message: span.statusMessage,
    start_time: span.startTime.toISOString(),
    end_time: span.endTime?.toISOString() ?? null,
    duration_ms: span.endTime === null ? null : span.endTime.getTime() - span.startTime.getTime(),
    attributes: span.attributes,
    children: [],
  };
}

/** What a node adds to the reply's JSON: itself with no children, and a comma. */
function nodeBytes(node: TraceSpanNode): number {
  return Buffer.byteLength(JSON.stringify(node), 'utf8') + 1;
}

/**
 * The spans (in start order) as a tree: each under its parent when the parent is in the trace, else a
 * root; children in start order. A parent chain that loops is cut where it closes (its earliest span
 * becomes a root). The tree holds spans in depth-first order (a parent before its children) for as
 * long as they fit in `budgetBytes` of JSON.
 */
export function buildTraceTree(spans: readonly StoredSpan[], budgetBytes: number): TraceTree {
  const nodes = new Map<string, TraceSpanNode>();
  for (const span of spans) nodes.set(span.spanId, toNode(span));
  const children = new Map<string, TraceSpanNode[]>();
  const roots: TraceSpanNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parent_span_id === null || node.parent_span_id === node.span_id ? undefined : nodes.get(node.parent_span_id);
    if (parent === undefined) roots.push(node);
    else children.set(parent.span_id, [...(children.get(parent.span_id) ?? []), node]);
  }

  const placed = new Set<string>();
  const tree: TraceSpanNode[] = [];
  let remaining = budgetBytes;
  let truncated = false;
  let full = false;
  // Iterative depth-first walk: a long chain of spans must not exhaust the stack. Spans too deep are
  // walked (so they are not taken for a loop) but left out.
  const place = (root: TraceSpanNode): void => {
    const stack: { node: TraceSpanNode; into: TraceSpanNode[] | null; depth: number }[] = [{ node: root, into: tree, depth: 1 }];
    while (stack.length > 0 && !full) {
      const { node, into, depth } = stack.pop()!;
      if (placed.has(node.span_id)) continue;
      placed.add(node.span_id);
      let target: TraceSpanNode[] | null = null;
      if (into === null || depth > TRACE_TREE_MAX_DEPTH) {
        truncated = true;
      } else {
        const cost = nodeBytes(node);
        if (cost > remaining) {
          // The spans that came first are kept; nothing after the first that does not fit.
          truncated = true;
          full = true;
          return;
        }
        remaining -= cost;
        into.push(node);
        target = node.children;
      }
      const below = children.get(node.span_id) ?? [];
      for (let index = below.length - 1; index >= 0; index--) stack.push({ node: below[index], into: target, depth: depth + 1 });
    }
  };
  for (const root of roots) place(root);
  // Spans in a loop of parents reach no root: the earliest of each loop becomes one.
  for (const node of nodes.values()) {
    if (full) break;
    if (placed.has(node.span_id)) continue;
    node.parent_span_id = null;
    place(node);
  }
  return { roots: tree, truncated };
}
