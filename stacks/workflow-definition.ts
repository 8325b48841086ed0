/**
 * The replication workflow's Amazon States Language document, built in TypeScript so that the
 * stack, the tests (asl-validator, aws-local-stepfunctions) and the docs share one definition.
 *
 * Shape (Standard workflow, JSONPath): one Choice routes the event by `$.event.eventType` to the
 * worker Lambda of its family; each worker Task retries a thing still waiting for its certificate
 * (`PrincipalPendingError`) on a steady interval covering the principal grace, other transient
 * errors with capped, jittered exponential backoff, and catches everything else. A caught error is written to the failure table
 * (native DynamoDB PutItem integration, no Lambda) and the execution then ends in a Fail state,
 * so a failed event is visible both as a row that reconciliation re-applies and as a failed
 * execution in CloudWatch. A successful event costs exactly two state transitions.
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 */

import { EVENT_TYPES, type EventType } from '../functions/lib/event-types';
import { MAX_EVENTS_PER_BATCH_EXECUTION } from '../functions/lib/trigger/limits';
import {
  DEFAULT_PRINCIPAL_GRACE_SECONDS,
  MAX_PRINCIPAL_GRACE_SECONDS,
  PRINCIPAL_PENDING_ERROR,
} from '../functions/lib/principal-grace';

export { EVENT_TYPES, type EventType };
export { DEFAULT_PRINCIPAL_GRACE_SECONDS, MAX_PRINCIPAL_GRACE_SECONDS, PRINCIPAL_PENDING_ERROR };

/** The four worker families (function entries `functions/worker-<family>`). */
export const WORKER_FAMILIES = ['thing', 'thingType', 'thingGroup', 'shadow'] as const;
export type WorkerFamily = (typeof WORKER_FAMILIES)[number];

/** Which worker applies which event type (the shared contract between workflow and workers). */
export const WORKER_FOR_EVENT_TYPE: Readonly<Record<EventType, WorkerFamily>> = {
  THING_EVENT: 'thing',
  THING_TYPE_ASSOCIATION_EVENT: 'thing',
  THING_TYPE_EVENT: 'thingType',
  THING_GROUP_EVENT: 'thingGroup',
  THING_GROUP_MEMBERSHIP_EVENT: 'thingGroup',
  THING_GROUP_HIERARCHY_EVENT: 'thingGroup',
  SHADOW_EVENT: 'shadow',
};

/** Shadow operations the capture rules write (`topic(5)`/`topic(7)` of the accepted topics). */
export const SHADOW_OPERATIONS = ['update', 'delete'] as const;

/** Task state name of each worker (stable: tests and CloudWatch dashboards refer to them). */
export const WORKER_STATE: Readonly<Record<WorkerFamily, string>> = {
  thing: 'ReplicateThing',
  thingType: 'ReplicateThingType',
  thingGroup: 'ReplicateThingGroup',
  shadow: 'ReplicateShadow',
};

/** Names of the other states (stable for the same reason). */
export const STATE = {
  route: 'RouteEvent',
  unknownEvent: 'UnknownEventType',
  retriesExhausted: 'RetriesExhausted',
  principalWaitExhausted: 'PrincipalWaitExhausted',
  permanentError: 'PermanentError',
  recordFailure: 'RecordFailure',
  failed: 'ReplicationFailed',
  notRecorded: 'FailureNotRecorded',
  // Batch (Express) workflow only:
  batch: 'ReplicateBatch',
  applied: 'Applied',
  deferToSlowLane: 'DeferToSlowLane',
  deferred: 'Deferred',
  slowLaneNotStarted: 'SlowLaneNotStarted',
  recorded: 'FailureRecorded',
  unrecorded: 'FailureUnrecorded',
} as const;

/**
 * What one event of a batch execution became (the Map's output, `[{ eventId, status }]`, read by the
 * stream trigger): `applied`; `deferred` (handed to the slow lane, which waits for its certificate);
 * `failed` (written to the failure table: reconciliation re-applies it); `unrecorded` (even the
 * failure record could not be written: the trigger returns the record to Lambda for retry, so it
 * ends in the DLQ if that keeps failing). Anything else, or a missing event, is retried too.
 */
export const ITEM_STATUS = ['applied', 'deferred', 'failed', 'unrecorded'] as const;
export type ItemStatus = (typeof ITEM_STATUS)[number];

/**
 * Error names the `arn:aws:states:::states:startExecution` integration reports when an execution
 * of that name exists already (closed, or open with another input): the event was deferred before.
 * Step Functions prefixes integration errors with the service (`StepFunctions.`).
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html
 */
export const SLOW_LANE_ALREADY_STARTED = [
  'StepFunctions.ExecutionAlreadyExistsException',
  'StepFunctions.ExecutionAlreadyExists',
] as const;

/** Longest an Express execution may run (then it ends as TIMED_OUT, without reaching any Catch). */
export const EXPRESS_MAX_SECONDS = 300;

/**
 * Budget the worst-case batch item must fit in: the Express limit minus a minute of room for what
 * the worst case does not count (Map scheduling, Lambda cold starts and throttled invocations).
 */
export const EXPRESS_BUDGET_SECONDS = EXPRESS_MAX_SECONDS - 60;

export { MAX_EVENTS_PER_BATCH_EXECUTION };

/**
 * Errors worth another attempt with exponential backoff: the workers' `RetryableError` (throttling,
 * 5xx, state still settling) and the Lambda service errors AWS recommends retrying, plus task
 * timeouts. A principal not attached yet is `PrincipalPendingError`, retried by its own retrier
 * (a different name: Step Functions matches error names as strings, never by class).
 * `Lambda.Unknown` is what a worker that ran out of time or memory reports; the workers are
 * idempotent, so another bounded attempt is safe.
 * https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
 */
export const TRANSIENT_ERRORS = [
  'RetryableError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.Unknown',
  'States.Timeout',
] as const;

/** Error name the workflow gives an event no worker handles. */
export const UNKNOWN_EVENT_ERROR = 'UnknownEventTypeError';

export interface WorkflowRetryPolicy {
  /** Retries after the first attempt (so `maxAttempts + 1` invocations at most). */
  readonly maxAttempts: number;
  /** Wait before the first retry; each further wait doubles (BackoffRate 2). */
  readonly intervalSeconds: number;
  /** Cap of any one wait (before full jitter draws a wait between 0 and it). */
  readonly maxDelaySeconds: number;
}

/** Steady wait between two re-reads of a thing still waiting for its certificate. */
export const PRINCIPAL_RETRY_INTERVAL_SECONDS = 20;

/** The `PrincipalPendingError` retrier: steady waits (BackoffRate 1, no jitter). */
export interface PrincipalRetryPolicy {
  /** Retries after the first attempt. */
  readonly maxAttempts: number;
  /** Wait before every retry. */
  readonly intervalSeconds: number;
}

/**
 * The retrier that waits for a certificate: `intervalSeconds` is 20 s (the grace itself when
 * shorter, at least 1 s, the ASL minimum) and `maxAttempts` is the grace divided by it, rounded
 * up, so the waits alone add up to at least the grace. The worker compares the event's age with the
 * same grace, and that age has grown by at least every wait, so the last retry always runs after
 * the grace: it finds the certificate, or replicates the thing without one (reconciliation adds a
 * later one). A grace of 0 gives `maxAttempts` 0: the worker never throws the error then.
 */
export function principalRetryPolicy(graceSeconds: number): PrincipalRetryPolicy {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_PRINCIPAL_GRACE_SECONDS) {
    throw new Error(
      `principalGraceSeconds must be a whole number from 0 to ${MAX_PRINCIPAL_GRACE_SECONDS} (got ${graceSeconds})`,
    );
  }
  const intervalSeconds = Math.max(1, Math.min(PRINCIPAL_RETRY_INTERVAL_SECONDS, graceSeconds));
  return { maxAttempts: Math.ceil(graceSeconds / intervalSeconds), intervalSeconds };
}

export interface WorkflowDefinitionProps {
  /** Lambda ARN of each worker (Terraform tokens in a stack, fake ARNs in tests). */
  readonly workers: Readonly<Record<WorkerFamily, string>>;
  /** Name of the failure table (hash key `eventId`). */
  readonly failureTableName: string;
  /** Days a failure record outlives the event item it came from (`expires` TTL attribute). */
  readonly failureRetentionDays: number;
  readonly retry: WorkflowRetryPolicy;
  /** Deadline of one worker invocation; should exceed the function's own timeout. */
  readonly taskTimeoutSeconds: number;
  /**
   * The workers' principal grace (`replication.principalGraceSeconds`, also passed to them as
   * `PRINCIPAL_GRACE_SECONDS`): sizes the `PrincipalPendingError` retrier.
   * @default 300
   */
  readonly principalGraceSeconds?: number;
}

/** An ASL document (kept loose on purpose: asl-validator checks it against the schema). */
export type AslDefinition = {
  Comment: string;
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, Record<string, unknown>>;
};

/**
 * A worker Task's deadline: a little above the function's own timeout, so that Lambda's timeout
 * (`Lambda.Unknown`, retried) normally fires first.
 */
export function taskTimeoutFor(workerTimeoutSeconds: number): number {
  return workerTimeoutSeconds + 10;
}

/** Worst-case seconds one worker state can take: every attempt times out, every wait is capped. */
export function worstCaseTaskSeconds(retry: WorkflowRetryPolicy, taskTimeoutSeconds: number): number {
  let waits = 0;
  for (let n = 0; n < retry.maxAttempts; n++) {
    waits += Math.min(retry.intervalSeconds * 2 ** n, retry.maxDelaySeconds);
  }
  return waits + (retry.maxAttempts + 1) * taskTimeoutSeconds;
}

/** Deadline, attempts and retry waits of the failure recorder (a DynamoDB PutItem). */
const RECORD_TIMEOUT_SECONDS = 10;
const RECORD_RETRY = { maxAttempts: 3, intervalSeconds: 1, maxDelaySeconds: 10 } as const;

/**
 * Worst-case seconds the `PrincipalPendingError` retrier adds to one worker state: each of its
 * retries waits its interval and may take up to the task deadline. Retriers count separately (a
 * retrier's count applies across all its visits within the state), so this adds to
 * {@link worstCaseTaskSeconds}.
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 */
export function worstCasePrincipalWaitSeconds(principalGraceSeconds: number, taskTimeoutSeconds: number): number {
  const policy = principalRetryPolicy(principalGraceSeconds);
  return policy.maxAttempts * (policy.intervalSeconds + taskTimeoutSeconds);
}

/** Worst-case seconds of the failure recorder (a DynamoDB PutItem exhausting its retries). */
export function worstCaseRecordSeconds(): number {
  return worstCaseTaskSeconds(RECORD_RETRY, RECORD_TIMEOUT_SECONDS);
}

/** Deadline and retries of the hand-off to the slow lane (one StartExecution). */
const DEFER_TIMEOUT_SECONDS = 10;
const DEFER_RETRY = { maxAttempts: 3, intervalSeconds: 1, maxDelaySeconds: 10 } as const;

/** Worst-case seconds of the hand-off to the slow lane (a StartExecution exhausting its retries). */
export function worstCaseDeferSeconds(): number {
  return worstCaseTaskSeconds(DEFER_RETRY, DEFER_TIMEOUT_SECONDS);
}

/**
 * Worst-case seconds of one event in the batch (Express) workflow, so of one batch execution (its
 * events run at once): the worker state exhausting the transient retrier, then the hand-off to the
 * slow lane failing, then the failure recorder. No certificate wait: that is the slow lane's.
 */
export function worstCaseBatchItemSeconds(retry: WorkflowRetryPolicy, taskTimeoutSeconds: number): number {
  return worstCaseTaskSeconds(retry, taskTimeoutSeconds) + worstCaseDeferSeconds() + worstCaseRecordSeconds();
}

/**
 * Worst-case seconds of one execution: the worker state exhausting both its retriers (transient
 * errors and a principal that never arrives), then the failure recorder exhausting its own.
 * Express workflows stop after 300 s, so this must fit there.
 */
export function worstCaseExecutionSeconds(
  retry: WorkflowRetryPolicy,
  taskTimeoutSeconds: number,
  principalGraceSeconds: number,
): number {
  return (
    worstCaseTaskSeconds(retry, taskTimeoutSeconds) +
    worstCasePrincipalWaitSeconds(principalGraceSeconds, taskTimeoutSeconds) +
    worstCaseRecordSeconds()
  );
}

/**
 * Builds the replication workflow's ASL.
 *
 * Execution input (written by the stream trigger): `{ "eventId": "<item uuid>", "event": <item> }`;
 * `event.expires` is the item's TTL in epoch seconds (the trigger rejects items without it, because
 * the failure record's own TTL is derived from it: ASL cannot read the clock as a number).
 * Each worker receives exactly `{ eventId, event }` (the workers' contract).
 */
export function workflowDefinition(props: WorkflowDefinitionProps): AslDefinition {
  return {
    Comment: 'iot-dr: applies one captured registry or shadow event in the secondary region',
    StartAt: STATE.route,
    States: eventStates(props, { kind: 'wait' }),
  };
}

/** Props of {@link batchWorkflowDefinition}. */
export interface BatchWorkflowDefinitionProps extends WorkflowDefinitionProps {
  /**
   * ARN of the slow lane: a Standard state machine of {@link workflowDefinition}, started (named
   * after the event) for the few events that must wait for a certificate.
   */
  readonly slowLaneArn: string;
  /** Events processed at once (the Map's MaxConcurrency). @default MAX_EVENTS_PER_BATCH_EXECUTION */
  readonly maxConcurrency?: number;
}

/**
 * Builds the batch workflow's ASL (Express, started synchronously by the stream trigger with up to
 * {@link MAX_EVENTS_PER_BATCH_EXECUTION} events): one inline Map over `$.events`, each event routed,
 * retried and caught exactly as in {@link workflowDefinition}, except that a thing still waiting for
 * its certificate (`PrincipalPendingError`) is not waited for here: it is handed to the slow lane
 * (a Standard execution named after the event, so a replayed batch starts it once) and reported
 * `deferred`. Each event ends in a Pass state giving `{ eventId, status }` ({@link ITEM_STATUS}), never
 * in a Fail state, so one event's failure never fails its neighbours; the execution output is
 * that array. The execution's worst case ({@link worstCaseBatchItemSeconds}) must fit in
 * {@link EXPRESS_BUDGET_SECONDS} (the configuration rule enforces it).
 *
 * Execution input: `{ "events": [{ "eventId", "executionName", "event" }, ...] }`.
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
 */
export function batchWorkflowDefinition(props: BatchWorkflowDefinitionProps): AslDefinition {
  const maxConcurrency = props.maxConcurrency ?? MAX_EVENTS_PER_BATCH_EXECUTION;
  return {
    Comment: 'iot-dr: applies a batch of captured registry and shadow events in the secondary region',
    StartAt: STATE.batch,
    States: {
      [STATE.batch]: {
        Type: 'Map',
        Comment: 'Every event of the batch at once; each ends with { eventId, status }',
        ItemsPath: '$.events',
        MaxConcurrency: maxConcurrency,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: STATE.route,
          States: eventStates(props, { kind: 'defer', slowLaneArn: props.slowLaneArn }),
        },
        End: true,
      },
    },
  };
}

/** How an event's states treat a thing still waiting for its certificate. */
type CertificateWait =
  /** Retry it here on a steady interval covering the grace (Standard: the per-event workflow, the slow lane). */
  | { readonly kind: 'wait' }
  /** Hand it to the slow lane and end (the batch workflow). */
  | { readonly kind: 'defer'; readonly slowLaneArn: string };

/** The states that route, apply, retry and catch one event (input `{ eventId, event }`). */
function eventStates(props: WorkflowDefinitionProps, lane: CertificateWait): AslDefinition['States'] {
  const { retry } = props;
  const batch = lane.kind === 'defer';
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 0 || retry.maxAttempts > 99) {
    throw new Error(`retry.maxAttempts must be a whole number from 0 to 99 (got ${retry.maxAttempts})`);
  }
  if (retry.maxDelaySeconds < retry.intervalSeconds) {
    throw new Error(
      `retry.maxDelaySeconds (${retry.maxDelaySeconds}) must be at least retry.intervalSeconds (${retry.intervalSeconds})`,
    );
  }
  const retentionSeconds = props.failureRetentionDays * 86400;
  const principal = principalRetryPolicy(props.principalGraceSeconds ?? DEFAULT_PRINCIPAL_GRACE_SECONDS);

  const workerTask = (family: WorkerFamily) => ({
    Type: 'Task',
    Comment: `Applies ${family} events in the secondary region`,
    Resource: props.workers[family],
    Parameters: { 'eventId.$': '$.eventId', 'event.$': '$.event' },
    ResultPath: '$.result',
    TimeoutSeconds: props.taskTimeoutSeconds,
    // Step Functions scans the retriers in order and uses the first whose ErrorEquals names the
    // error; each retrier keeps its own count. The certificate wait comes first, with its own
    // steady budget that outlasts the grace; it never consumes the transient errors' budget.
    Retry: [
      ...(batch
        ? []
        : [
            {
              ErrorEquals: [PRINCIPAL_PENDING_ERROR],
              IntervalSeconds: principal.intervalSeconds,
              BackoffRate: 1,
              MaxAttempts: principal.maxAttempts,
              JitterStrategy: 'NONE',
            },
          ]),
      {
        ErrorEquals: [...TRANSIENT_ERRORS],
        IntervalSeconds: retry.intervalSeconds,
        BackoffRate: 2,
        MaxAttempts: retry.maxAttempts,
        MaxDelaySeconds: retry.maxDelaySeconds,
        JitterStrategy: 'FULL',
      },
    ],
    // One catcher per retrier so the record can say how many attempts were made: an error reaching
    // the Catch has exhausted its retrier (at least its maxAttempts + 1 invocations; more when the
    // other retrier also retried); any other error is permanent and is not retried. Step Functions
    // exposes RetryCount only inside the retried state, never to the catcher, hence the constant
    // per catcher.
    Catch: [
      batch
        ? { ErrorEquals: [PRINCIPAL_PENDING_ERROR], ResultPath: null, Next: STATE.deferToSlowLane }
        : { ErrorEquals: [PRINCIPAL_PENDING_ERROR], ResultPath: '$.failure', Next: STATE.principalWaitExhausted },
      { ErrorEquals: [...TRANSIENT_ERRORS], ResultPath: '$.failure', Next: STATE.retriesExhausted },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.permanentError },
    ],
    ...(batch ? { Next: STATE.applied } : { End: true }),
  });

  const isType = (type: EventType) => ({ Variable: '$.event.eventType', StringEquals: type });
  const route = (family: WorkerFamily) =>
    (Object.keys(WORKER_FOR_EVENT_TYPE) as EventType[]).filter(
      (t) => WORKER_FOR_EVENT_TYPE[t] === family && t !== 'SHADOW_EVENT',
    );
  const anyOf = (types: EventType[]) => (types.length === 1 ? isType(types[0]) : { Or: types.map(isType) });

  const itemResult = (status: ItemStatus, extra: Record<string, unknown> = {}) => ({
    Type: 'Pass',
    Parameters: { 'eventId.$': '$.eventId', status, ...extra },
    End: true,
  });
  const batchStates: AslDefinition['States'] = !batch
    ? {}
    : {
        [STATE.applied]: itemResult('applied'),
        [STATE.deferToSlowLane]: {
          Type: 'Task',
          Comment: 'A thing waiting for its certificate: the slow lane (Standard) waits for it, named after the event',
          Resource: 'arn:aws:states:::states:startExecution',
          Parameters: {
            StateMachineArn: lane.slowLaneArn,
            'Name.$': '$.executionName',
            Input: { 'eventId.$': '$.eventId', 'event.$': '$.event' },
          },
          ResultPath: null,
          TimeoutSeconds: DEFER_TIMEOUT_SECONDS,
          Retry: [
            // Already started (a replayed batch): never retried, caught below as done.
            { ErrorEquals: [...SLOW_LANE_ALREADY_STARTED], MaxAttempts: 0 },
            {
              ErrorEquals: ['States.ALL'],
              IntervalSeconds: DEFER_RETRY.intervalSeconds,
              BackoffRate: 2,
              MaxAttempts: DEFER_RETRY.maxAttempts,
              MaxDelaySeconds: DEFER_RETRY.maxDelaySeconds,
              JitterStrategy: 'FULL',
            },
          ],
          Catch: [
            { ErrorEquals: [...SLOW_LANE_ALREADY_STARTED], ResultPath: null, Next: STATE.deferred },
            { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.slowLaneNotStarted },
          ],
          Next: STATE.deferred,
        },
        [STATE.deferred]: itemResult('deferred'),
        [STATE.slowLaneNotStarted]: {
          Type: 'Pass',
          Comment: 'The slow lane could not be started: record the event for reconciliation',
          Result: String(DEFER_RETRY.maxAttempts + 1),
          ResultPath: '$.attempts',
          Next: STATE.recordFailure,
        },
        [STATE.recorded]: itemResult('failed', { 'error.$': '$.failure.Error' }),
        [STATE.unrecorded]: itemResult('unrecorded', { 'error.$': '$.recordError.Error' }),
      };
  return {
    [STATE.route]: {
      Type: 'Choice',
      Comment: 'Routes by eventType (and shadow operation); anything else is recorded as a failure',
      Choices: [
        // A missing eventType would make the comparisons below a runtime error: route it first.
        { Not: { Variable: '$.event.eventType', IsPresent: true }, Next: STATE.unknownEvent },
        { ...anyOf(route('thing')), Next: WORKER_STATE.thing },
        { ...anyOf(route('thingType')), Next: WORKER_STATE.thingType },
        { ...anyOf(route('thingGroup')), Next: WORKER_STATE.thingGroup },
        {
          And: [
            isType('SHADOW_EVENT'),
            { Variable: '$.event.operation', IsPresent: true },
            { Or: SHADOW_OPERATIONS.map((op) => ({ Variable: '$.event.operation', StringEquals: op })) },
          ],
          Next: WORKER_STATE.shadow,
        },
      ],
      Default: STATE.unknownEvent,
    },
    [WORKER_STATE.thing]: workerTask('thing'),
    [WORKER_STATE.thingType]: workerTask('thingType'),
    [WORKER_STATE.thingGroup]: workerTask('thingGroup'),
    [WORKER_STATE.shadow]: workerTask('shadow'),
    [STATE.unknownEvent]: {
      Type: 'Pass',
      Comment: 'No worker handles this event: record it rather than drop it',
      Parameters: {
        'eventId.$': '$.eventId',
        'event.$': '$.event',
        failure: {
          Error: UNKNOWN_EVENT_ERROR,
          Cause: `no worker handles this eventType/operation; known event types: ${EVENT_TYPES.join(', ')}; shadow operations: ${SHADOW_OPERATIONS.join(', ')}`,
        },
        attempts: '0',
      },
      Next: STATE.recordFailure,
    },
    [STATE.retriesExhausted]: {
      Type: 'Pass',
      Result: String(retry.maxAttempts + 1),
      ResultPath: '$.attempts',
      Next: STATE.recordFailure,
    },
    ...(batch
      ? {}
      : {
          [STATE.principalWaitExhausted]: {
            Type: 'Pass',
            Comment: 'The thing still had no principal after the whole grace (clock skew, or the waits were cut short)',
            Result: String(principal.maxAttempts + 1),
            ResultPath: '$.attempts',
            Next: STATE.recordFailure,
          },
        }),
    [STATE.permanentError]: {
      Type: 'Pass',
      Result: '1',
      ResultPath: '$.attempts',
      Next: STATE.recordFailure,
    },
    [STATE.recordFailure]: {
      Type: 'Task',
      Comment: 'Writes the failure table row reconciliation re-applies (native integration: no Lambda)',
      Resource: 'arn:aws:states:::dynamodb:putItem',
      Parameters: {
        TableName: props.failureTableName,
        Item: {
          eventId: { 'S.$': '$.eventId' },
          event: { 'S.$': 'States.JsonToString($.event)' },
          error: { 'S.$': '$.failure.Error' },
          cause: { 'S.$': '$.failure.Cause' },
          attempts: { 'N.$': '$.attempts' },
          failedAt: { 'S.$': '$$.State.EnteredTime' },
          expires: { 'N.$': `States.Format('{}', States.MathAdd($.event.expires, ${retentionSeconds}))` },
        },
      },
      ResultPath: null,
      TimeoutSeconds: RECORD_TIMEOUT_SECONDS,
      Retry: [
        {
          ErrorEquals: ['States.ALL'],
          IntervalSeconds: RECORD_RETRY.intervalSeconds,
          BackoffRate: 2,
          MaxAttempts: RECORD_RETRY.maxAttempts,
          MaxDelaySeconds: RECORD_RETRY.maxDelaySeconds,
          JitterStrategy: 'FULL',
        },
      ],
      Catch: [
        {
          ErrorEquals: ['States.ALL'],
          ResultPath: '$.recordError',
          Next: batch ? STATE.unrecorded : STATE.notRecorded,
        },
      ],
      Next: batch ? STATE.recorded : STATE.failed,
    },
    ...(batch
      ? batchStates
      : {
          [STATE.failed]: {
            Type: 'Fail',
            Comment: 'The event is in the failure table; the execution fails so that it shows in metrics',
            ErrorPath: '$.failure.Error',
            CausePath: '$.failure.Cause',
          },
          [STATE.notRecorded]: {
            Type: 'Fail',
            Comment: 'Even the failure record could not be written: only the failed execution remains',
            Error: 'FailureNotRecorded',
            CausePath: '$.recordError.Cause',
          },
        }),
  };
}
