import { runWithTraceContext, startTrace, traceFromHeaders, traceparentOf, TRACEPARENT_HEADER, type TraceContext } from '@runyard/messaging';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The trace this request runs in (set by the trace hook on every request). */
    traceContext?: TraceContext;
  }
}

/** The label of the trace id on every log line written through `request.log`. */
export const TRACE_ID_LOG_LABEL = 'trace_id';

/**
 * W3C Trace Context at the edge. Every request runs in a trace: the caller's, when it sent a valid
 * `traceparent` (its `tracestate` is kept if well-formed and bounded), else a new one with random ids.
 * The response names the gateway's own span in `traceparent`, so a client that sent none learns the
 * trace id; every line of `request.log` carries `trace_id`. Route handlers run within the trace
 * (`traceContext()`), so every bus request the gateway makes carries it on (ServiceClient).
 */
export function installTraceContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const context = traceFromHeaders(request.headers) ?? startTrace();
    request.traceContext = context;
    request.log = request.log.child({ [TRACE_ID_LOG_LABEL]: context.traceId });
    void reply.header(TRACEPARENT_HEADER, traceparentOf(context));
    done();
  });
  // After the body is read (its stream callbacks would not keep an async context), right before the
  // handler: everything the handler does, awaited or scheduled, sees the trace.
  fastify.addHook('preHandler', (request, _reply, done) => {
    runWithTraceContext(request.traceContext, done);
  });
}
