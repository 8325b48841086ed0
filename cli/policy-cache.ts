/**
 * A read-through cache of GetPolicy for one `iot-dr copy` run. Thousands of things share a few
 * policies: the replication library syncs a certificate's policies with it (`syncPolicy`: GetPolicy
 * in both regions), so every thing re-read policies the copy had already converged, and GetPolicy
 * (10 TPS, assumed) bound the whole copy. With the cache each policy is read once per region and
 * run; the answer is reused until this process writes the policy (CreatePolicy,
 * CreatePolicyVersion, DeletePolicy, DeletePolicyVersion, SetDefaultPolicyVersion through the same
 * client drop it, and a read that overlapped a write is not kept).
 *
 * What it does not see: a policy changed by someone else during the run (in the primary, or by
 * the replication workers in the secondary). The copy then leaves that policy as it first read it;
 * `iot-dr verify` (which never uses this cache) reports it and reconciliation or the next copy
 * converges it.
 */

/** Policy writes that make a cached answer stale. */
const POLICY_WRITES = new Set([
  'CreatePolicyCommand',
  'CreatePolicyVersionCommand',
  'DeletePolicyCommand',
  'DeletePolicyVersionCommand',
  'SetDefaultPolicyVersionCommand',
]);

interface MiddlewareClient {
  readonly middlewareStack: { add: (mw: unknown, options: unknown) => void };
}

type Handler = (args: { input?: { policyName?: string } }) => Promise<{ output: unknown }>;

export class PolicyReadCache {
  /** Reads by key: in flight or done (concurrent things waiting for one policy share one read). */
  private readonly answers = new Map<string, Promise<unknown>>();
  /** Writes started per key: a read that overlapped one is not kept. */
  private readonly generation = new Map<string, number>();
  private readonly writing = new Map<string, number>();
  /** GetPolicy calls answered from the cache. */
  answered = 0;

  /** Puts the cache in front of a client; `side` keeps the regions apart. */
  attach(client: MiddlewareClient, side: string): void {
    client.middlewareStack.add(
      (next: Handler, context: { commandName?: string }) => async (args: { input?: { policyName?: string } }) => {
        const name = args.input?.policyName;
        if (!name) return next(args);
        const key = `${side}\u0000${name}`;
        if (context.commandName === 'GetPolicyCommand') {
          const cached = this.answers.get(key);
          if (cached) {
            this.answered++;
            return cached;
          }
          const before = this.generation.get(key) ?? 0;
          const read = next(args);
          if (!this.writing.get(key)) this.answers.set(key, read);
          const forget = () => {
            if (this.answers.get(key) === read) this.answers.delete(key);
          };
          try {
            const result = await read;
            if ((this.generation.get(key) ?? 0) !== before) forget();
            return result;
          } catch (error) {
            forget();
            throw error;
          }
        }
        if (!POLICY_WRITES.has(context.commandName ?? '')) return next(args);
        this.answers.delete(key);
        this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
        this.writing.set(key, (this.writing.get(key) ?? 0) + 1);
        try {
          return await next(args);
        } finally {
          this.writing.set(key, (this.writing.get(key) ?? 1) - 1);
          this.answers.delete(key);
          this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
        }
      },
      { step: 'initialize', name: 'iotDrPolicyCache', priority: 'high', override: true },
    );
  }
}
