/**
 * A local Step Functions endpoint for the stream trigger: a loopback HTTP server speaking the
 * AWS JSON 1.0 protocol of `StartSyncExecution` (Express) and `StartExecution` (Standard, with
 * execution-name idempotency), which runs the real ASL with aws-local-stepfunctions against local
 * handlers (the real worker handlers in the bench and the tests). Every other request (the
 * trigger's SQS calls, say) is forwarded unchanged to `forwardTo` (moto), so the trigger needs one
 * endpoint, as in Lambda. It counts what AWS bills: executions, state transitions (states entered
 * plus retries), and each Express execution's duration.
 *
 * Emulator gaps (see docs/workflow.md): no `$$.State` in the context (each run gets
 * `State.EnteredTime`), service integrations resolved to local handlers (the failure table's
 * PutItem, the slow lane's StartExecution), retry waits shortened by `retryWaitMs`.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type AslDefinition,
  STATE,
  WORKER_FAMILIES,
  WORKER_STATE,
  type WorkerFamily,
} from '../../stacks/workflow-definition';
import { dynamodbPutItem, type LocalHandler } from './workflow';

/** One state machine the server runs. */
export interface LocalMachine {
  readonly arn: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly definition: AslDefinition;
  /** Retry waits of this machine's states (per retrier index, or one for all). @default the server's */
  readonly retryWaitMs?: number | number[];
}

export interface LocalStepFunctionsOptions {
  readonly machines: readonly LocalMachine[];
  /** The worker handlers, by family (each Task state of a family is resolved to it). */
  readonly workers: Readonly<Record<WorkerFamily, LocalHandler>>;
  /** Client of the failure table's region (the RecordFailure PutItem goes there). */
  readonly dynamodb: DynamoDBClient;
  /** Where every non-Step-Functions request goes (moto's endpoint). */
  readonly forwardTo: string;
  /** Retry waits in milliseconds, per retrier index or one for all; negative: the real waits. @default 5 */
  readonly retryWaitMs?: number | number[];
  /** Called when an execution ends (latency measurements). */
  readonly onExecutionEnd?: (arn: string, input: unknown, status: 'SUCCEEDED' | 'FAILED') => void;
}

/** What was billed-relevant, per state machine. */
export interface MachineStats {
  executions: number;
  /** States entered plus retries (what Standard bills). */
  transitions: number;
  /** Express: sum of durations rounded up to 100 ms each. */
  billedDurationMs: number;
  /** Wall-clock durations of the executions, in milliseconds. */
  durationsMs: number[];
  succeeded: number;
  failed: number;
}

export interface LocalStepFunctions {
  readonly endpoint: string;
  readonly stats: Record<string, MachineStats>;
  /** Resolves when every asynchronous (Standard) execution started so far has ended. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

interface Named {
  readonly arn: string;
  readonly input: string;
  running: boolean;
}

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

/** Starts the server on 127.0.0.1 (a free port). */
export async function startLocalStepFunctions(options: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const machines = new Map(
    options.machines.map((m) => [m.arn, { ...m, compiled: new StateMachine(m.definition as never) }]),
  );
  const stats: Record<string, MachineStats> = {};
  for (const m of options.machines) {
    stats[m.arn] = { executions: 0, transitions: 0, billedDurationMs: 0, durationsMs: [], succeeded: 0, failed: 0 };
  }
  const names = new Map<string, Named>();
  const pending = new Set<Promise<unknown>>();
  const putItem = dynamodbPutItem(options.dynamodb);
  const retryWait = options.retryWaitMs ?? 5;

  const handlers: Record<string, LocalHandler> = { [STATE.recordFailure]: putItem };
  for (const family of WORKER_FAMILIES) handlers[WORKER_STATE[family]] = options.workers[family];
  handlers[STATE.deferToSlowLane] = async (parameters: { StateMachineArn: string; Name: string; Input: unknown }) => {
    try {
      return startAsync(parameters.StateMachineArn, parameters.Name, JSON.stringify(parameters.Input));
    } catch (error) {
      if (error instanceof ServiceError) {
        // The optimized integration's error names: the service prefix plus the API's exception name.
        const renamed = new Error(error.message);
        renamed.name = `StepFunctions.${error.type}Exception`;
        throw renamed;
      }
      throw error;
    }
  };
  // A negative wait: the definition's own intervals, backoff and jitter (real time).
  const overridesFor = (wait: number | number[]) =>
    typeof wait === 'number' && wait < 0
      ? {}
      : Object.fromEntries(
          [...Object.values(WORKER_STATE), STATE.recordFailure, STATE.deferToSlowLane].map((s) => [s, wait]),
        );

  async function run(arn: string, input: string) {
    const machine = machines.get(arn);
    if (!machine) throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    const stat = stats[arn];
    stat.executions++;
    const started = Date.now();
    const execution = machine.compiled.run(JSON.parse(input), {
      overrides: {
        taskResourceLocalHandlers: handlers,
        retryIntervalOverrides: overridesFor(machine.retryWaitMs ?? retryWait),
      },
      context: { State: { EnteredTime: new Date().toISOString(), RetryCount: 0 } } as never,
    });
    const collect = (async () => {
      for await (const event of execution.eventLogs as AsyncGenerator<{ type: string }>) {
        if (event.type === 'StateEntered' || event.type === 'StateRetried') stat.transitions++;
      }
    })();
    let result: { status: 'SUCCEEDED' | 'FAILED'; output?: string; error?: string; cause?: string };
    try {
      result = { status: 'SUCCEEDED', output: JSON.stringify(await execution.result) };
    } catch (error) {
      const e = error as Error & { cause?: unknown };
      const inner = e.cause instanceof Error ? e.cause : e;
      result = { status: 'FAILED', error: inner.name, cause: inner.message };
    }
    await collect.catch(() => undefined);
    const duration = Date.now() - started;
    stat.durationsMs.push(duration);
    stat.billedDurationMs += Math.max(100, Math.ceil(duration / 100) * 100);
    if (result.status === 'SUCCEEDED') stat.succeeded++;
    else stat.failed++;
    options.onExecutionEnd?.(arn, JSON.parse(input), result.status);
    return { ...result, started, duration };
  }

  /** StartExecution: names are idempotency keys (same name + input while running: the same execution). */
  function startAsync(
    arn: string,
    name: string | undefined,
    input: string,
  ): { executionArn: string; startDate: number } {
    if (!machines.has(arn))
      throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    const executionName = name ?? randomUUID();
    const key = `${arn}\n${executionName}`;
    const existing = names.get(key);
    if (existing) {
      if (existing.running && existing.input === input)
        return { executionArn: existing.arn, startDate: Date.now() / 1000 };
      throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.arn}'`);
    }
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${executionName}`;
    const entry: Named = { arn: executionArn, input, running: true };
    names.set(key, entry);
    const done = run(arn, input)
      .catch(() => undefined)
      .finally(() => {
        entry.running = false;
        pending.delete(done);
      });
    pending.add(done);
    return { executionArn, startDate: Date.now() / 1000 };
  }

  async function handle(target: string, body: Record<string, unknown>): Promise<unknown> {
    const arn = String(body.stateMachineArn ?? '');
    const input = typeof body.input === 'string' ? body.input : '{}';
    if (target === 'StartExecution') return startAsync(arn, body.name as string | undefined, input);
    if (target === 'StartSyncExecution') {
      const machine = machines.get(arn);
      if (!machine) throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
      if (machine.type !== 'EXPRESS')
        throw new ServiceError('StateMachineTypeNotSupported', 'StartSyncExecution needs an Express state machine');
      const name = (body.name as string | undefined) ?? randomUUID();
      const result = await run(arn, input);
      return {
        executionArn: `${arn.replace(':stateMachine:', ':express:')}:${name}:${randomUUID()}`,
        stateMachineArn: arn,
        name,
        startDate: result.started / 1000,
        stopDate: (result.started + result.duration) / 1000,
        status: result.status,
        ...(result.output !== undefined ? { output: result.output } : {}),
        ...(result.error !== undefined ? { error: result.error, cause: result.cause } : {}),
        billingDetails: {
          billedMemoryUsedInMB: 64,
          billedDurationInMilliseconds: Math.max(100, Math.ceil(result.duration / 100) * 100),
        },
      };
    }
    throw new ServiceError('UnknownOperationException', `not emulated: ${target}`);
  }

  const forward = new URL(options.forwardTo);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (!target.startsWith('AWSStepFunctions.')) {
        const upstream = httpRequest(
          { host: forward.hostname, port: forward.port, method: req.method, path: req.url, headers: req.headers },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        upstream.end(raw);
        return;
      }
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(payload));
      };
      handle(target.slice('AWSStepFunctions.'.length), JSON.parse(raw.toString('utf8') || '{}'))
        .then((payload) => reply(200, payload))
        .catch((error) => {
          if (error instanceof ServiceError) reply(error.status, { __type: error.type, message: error.message });
          else reply(500, { __type: 'InternalServerError', message: (error as Error).message });
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    async drain() {
      for (let round = 0; round < 10_000 && pending.size > 0; round++) await Promise.all([...pending]);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
