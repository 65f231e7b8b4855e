import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Bus, checkBusConnected } from '@runyard/messaging';
import { HealthModule, NestPinoLogger, type Logger, type ReadinessCheck } from '@runyard/runtime';
import { Worker, type Executor } from '@runyard/worker';

export interface WorkerAppOptions {
  bus: Bus;
  logger: Logger;
  workerId: string;
  executors: Record<string, Executor>;
  concurrency: number;
  leaseTtlMs: number;
  claimPollMs: number;
  /** Serve /healthz and /readyz on this port (0: any free port). */
  httpPort: number;
}

export interface RunningWorkerApp {
  worker: Worker;
  /** The port /healthz and /readyz answer on. */
  port: number;
  /** Drains the worker (see Worker.stop), then stops the health endpoints. The bus stays open. */
  close(drainMs: number): Promise<void>;
}

/** Ready while the bus is connected and the worker is taking work (not while it drains). */
export function workerReadinessChecks(bus: Bus, worker: Worker): ReadinessCheck[] {
  return [
    { name: 'bus', check: () => checkBusConnected(bus) },
    { name: 'worker', check: () => (worker.isTakingWork ? Promise.resolve() : Promise.reject(new Error('not taking work'))) },
  ];
}

@Module({})
class WorkerAppModule {}

/** A worker on the given bus, with its health endpoints; claiming when this resolves. */
export async function startWorkerApp(options: WorkerAppOptions): Promise<RunningWorkerApp> {
  const worker = new Worker({
    bus: options.bus,
    workerId: options.workerId,
    executors: options.executors,
    concurrency: options.concurrency,
    leaseTtlMs: options.leaseTtlMs,
    claimPollMs: options.claimPollMs,
    logger: options.logger,
  });
  const root: DynamicModule = { module: WorkerAppModule, imports: [HealthModule.forRoot(workerReadinessChecks(options.bus, worker))] };
  const http = await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), { logger: new NestPinoLogger(options.logger) });
  await http.listen(options.httpPort, '0.0.0.0');
  const address = http.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : options.httpPort;
  try {
    await worker.start();
  } catch (error) {
    await http.close();
    throw error;
  }
  return {
    worker,
    port,
    async close(drainMs) {
      await worker.stop({ drainMs });
      await http.close();
    },
  };
}
