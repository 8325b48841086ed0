// The conflict rule of two-way replication (policy `merge`) on AWS-shaped shadow documents, where
// every field carries its own metadata timestamp (moto stamps all fields with the last update's
// time, so the per-field cases are checked here, on the pure functions the workers use).
// https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html#document-structure
import { mergePatch, newestTimestamp, removedAt, shadowPatch, type ShadowRemoval } from '../../functions/lib/replication';

/** A section (`reported`) and its metadata, each field with its own time. */
function doc(fields: Record<string, [unknown, number]>) {
  const state: Record<string, unknown> = {};
  const metadata: Record<string, unknown> = {};
  for (const [k, [v, ts]] of Object.entries(fields)) {
    state[k] = v;
    metadata[k] = { timestamp: ts };
  }
  return { state, metadata };
}

/** Applies a shadow update patch under the shadow service's merge rules (null removes). */
function applyPatch(current: Record<string, unknown>, patch: unknown): Record<string, unknown> {
  const out = { ...current };
  for (const [k, v] of Object.entries((patch ?? {}) as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Both regions after each applies the other's state under `merge` (in either order the result is the same). */
function converge(a: ReturnType<typeof doc>, b: ReturnType<typeof doc>) {
  const intoB = applyPatch(b.state, mergePatch(a.state, a.metadata, b.state, b.metadata));
  const intoA = applyPatch(a.state, mergePatch(b.state, b.metadata, a.state, a.metadata));
  return { a: intoA, b: intoB };
}

describe('Conflict rule (merge): newest field wins, deterministically', () => {
  it('takes each field from the region that wrote it last: both regions end equal', () => {
    // Given temp newer in the primary, mode newer in the secondary
    const p = doc({ temp: [20, 105], mode: ['eco', 100] });
    const s = doc({ temp: [25, 101], mode: ['boost', 103] });
    // When each applies the other's state
    const { a, b } = converge(p, s);
    // Then both hold the newest value of each field
    expect(a).toEqual({ temp: 20, mode: 'boost' });
    expect(b).toEqual(a);
  });

  it('breaks a tie (same second) by the values themselves, so both regions pick the same one', () => {
    const p = doc({ temp: [20, 100] });
    const s = doc({ temp: [25, 100] });
    const { a, b } = converge(p, s);
    expect(a).toEqual(b);
    expect(a.temp).toBe(25); // "25" sorts after "20" in canonical JSON
  });

  it('adds fields only one region has, and keeps a target-only field unless the event removed it later', () => {
    const origin = doc({ a: [1, 100] });
    const target = doc({ b: [2, 100] });
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata)).toEqual({ a: 1 });
    // The origin's update removed b (null in the accepted document) at 105, after the target wrote it
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata, { requested: { b: null }, eventTimestamp: 105 })).toEqual({
      a: 1,
      b: null,
    });
    // ...but a removal older than the target's write does not remove it
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata, { requested: { b: null }, eventTimestamp: 99 })).toEqual({ a: 1 });
    // Failback: target-only data from before the failover (--since) counts as removed in the origin
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata, { staleBefore: 101 })).toEqual({ a: 1, b: null });
  });

  it('merges nested objects field by field and reads the newest time of a subtree', () => {
    const origin = { state: { color: { r: 1, g: 9 } }, metadata: { color: { r: { timestamp: 100 }, g: { timestamp: 110 } } } };
    const target = { state: { color: { r: 5, g: 2 } }, metadata: { color: { r: { timestamp: 105 }, g: { timestamp: 100 } } } };
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata)).toEqual({ color: { g: 9 } });
    expect(newestTimestamp(origin.metadata)).toBe(110);
    expect(newestTimestamp([{ timestamp: 3 }, { timestamp: 7 }])).toBe(7);
    expect(newestTimestamp(undefined)).toBe(Number.NEGATIVE_INFINITY);
  });

  it("the check pass after a write lets the origin's later change beat the replicator's own (newer-stamped) copy", () => {
    // Given the sync read temp=20, the origin then wrote 21 (at 105), and the sync wrote 20 at 106
    const origin = doc({ temp: [21, 105], gone: [undefined, 0] });
    delete origin.state.gone;
    const target = doc({ temp: [20, 106], extra: [1, 106] });
    // Without knowing it wrote them, the newer write time keeps the stale copy
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata)).toBeUndefined();
    // The check pass knows: its own copy loses to the origin's change; a copy of a field the origin
    // has removed since is removed
    expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata, { ownWrite: { temp: 20, extra: 1 } })).toEqual({
      temp: 21,
      extra: null,
    });
  });

  it('mirror (one-way) keeps the old rule: the target becomes the origin', () => {
    expect(shadowPatch({ temp: 25, b: 1 }, { temp: 20 })).toEqual({ temp: 20, b: null });
  });
  describe('removal tombstones: a field one region removed is not re-added by an older set from the other', () => {
    /** The target's own removal updates, as the removals index returns them (accepted `state`, epoch s). */
    const removals: ShadowRemoval[] = [
      { timestamp: 110, state: { reported: { mode: null } } },
      { timestamp: 120, state: { desired: null } },
      { timestamp: 130, state: { reported: { color: { g: null } } } },
    ];
    const lookup = { targetRemovedAt: (path: readonly string[]) => removedAt(removals, path) };
    /** Origin section `reported` has fields the target lacks; the target's section is `target`. */
    const merge = (origin: ReturnType<typeof doc>, target: ReturnType<typeof doc>, path = 'reported') =>
      mergePatch(origin.state, origin.metadata, target.state, target.metadata, { path: [path], ...lookup });

    it('reads which paths an update nulled, an ancestor null removing its whole subtree', () => {
      expect(removedAt(removals, ['reported', 'mode'])).toBe(110);
      expect(removedAt(removals, ['desired', 'anything', 'deep'])).toBe(120);
      expect(removedAt(removals, ['reported', 'color', 'g'])).toBe(130);
      expect(removedAt(removals, ['reported', 'color', 'r'])).toBeUndefined();
      expect(removedAt(removals, ['reported', 'temp'])).toBeUndefined();
      expect(removedAt([{ timestamp: 140, state: null }], ['reported', 'temp'])).toBe(140); // state: null
    });

    it('a removal newer than the origin set wins; an origin set newer than the removal is added; a tie goes to the removal', () => {
      const target = doc({ temp: [20, 100] });
      expect(merge(doc({ temp: [20, 100], mode: ['eco', 105] }), target)).toBeUndefined(); // removed at 110 > 105
      expect(merge(doc({ temp: [20, 100], mode: ['eco', 115] }), target)).toEqual({ mode: 'eco' }); // set at 115 > 110
      expect(merge(doc({ temp: [20, 100], mode: ['eco', 110] }), target)).toBeUndefined(); // tie: removal wins
    });

    it('decides field by field inside an origin-only object, and for a whole section removed by an ancestor null', () => {
      const origin = {
        state: { color: { r: 1, g: 2 } },
        metadata: { color: { r: { timestamp: 125 }, g: { timestamp: 125 } } },
      };
      // g was removed at 130 (after 125), r never: only r comes
      expect(mergePatch(origin.state, origin.metadata, {}, {}, { path: ['reported'], ...lookup })).toEqual({ color: { r: 1 } });
      // desired: null at 120 removed everything under desired written up to then
      const desired = doc({ a: [1, 119], b: [2, 121] });
      expect(merge(desired, doc({}), 'desired')).toEqual({ b: 2 });
    });

    it('reports every field it would add with its own origin time, so that the one lookup starts at the oldest', () => {
      const origin = { state: { color: { r: 1, g: 2 }, temp: 20 }, metadata: { color: { r: { timestamp: 100 }, g: { timestamp: 130 } }, temp: { timestamp: 90 } } };
      const target = { state: { temp: 20 }, metadata: { temp: { timestamp: 95 } } };
      const times: number[] = [];
      expect(mergePatch(origin.state, origin.metadata, target.state, target.metadata, { path: ['reported'], onAddition: (t) => times.push(t) })).toEqual({
        color: { r: 1, g: 2 },
      });
      expect(times.sort()).toEqual([100, 130]);
    });

    it('converges both regions whatever the delivery order: the remover applies the set (kept out), the setter applies the removal event', () => {
      // Given mode set in region A at 105 and removed in region B at 110 (B's own removal update)
      const a = doc({ temp: [20, 100], mode: ['boost', 105] });
      const b = doc({ temp: [20, 100] });
      // B applies A's state: mode is not re-added (B's tombstone at 110 >= 105)
      const intoB = applyPatch(b.state, mergePatch(a.state, a.metadata, b.state, b.metadata, { path: ['reported'], ...lookup }));
      // A applies B's removal event (requested null at 110): A's mode written at 105 goes
      const intoA = applyPatch(a.state, mergePatch(b.state, b.metadata, a.state, a.metadata, { requested: { mode: null }, eventTimestamp: 110 }));
      expect(intoB).toEqual({ temp: 20 });
      expect(intoA).toEqual(intoB);
    });
  });
});
