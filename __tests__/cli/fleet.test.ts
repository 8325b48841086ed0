// Pure parts of the fleet library: normalization, diff of single things, group ordering.
import { summarizeDifferences } from '../../cli/commands/verify';
import {
  canonicalJson,
  diffSnapshots,
  diffThing,
  groupLevels,
  normalizeArnRegions,
  normalizePolicyDocument,
  principalKey,
  type FleetSnapshot,
  type PolicyState,
  type ThingState,
} from '../../functions/lib/fleet';

// The placeholder the normalization writes (a literal "${region}", not a template).
// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point
const R = '${region}';

const thing = (over: Partial<ThingState> = {}): ThingState => ({
  name: 't',
  type: 'sensor',
  attributes: { a: '1' },
  groups: ['g'],
  principals: ['abc'],
  shadows: { '': { desired: '{"x":1}', reported: null } },
  ...over,
});

describe('fleet model and diff', () => {
  it('normalizes regions inside ARNs only, and key order', () => {
    expect(normalizeArnRegions('arn:aws:iot:us-east-1:123:topic/us-east-1/x')).toBe(
      `arn:aws:iot:${R}:123:topic/us-east-1/x`,
    );
    expect(normalizeArnRegions('arn:aws-cn:iot:cn-north-1:1:client/a')).toBe(`arn:aws-cn:iot:${R}:1:client/a`);
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } })).toBe(
      '{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}',
    );
    const east = JSON.stringify({
      Statement: [{ Resource: 'arn:aws:iot:us-east-1:1:client/x', Effect: 'Allow' }],
      Version: '2012-10-17',
    });
    const west = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Resource: 'arn:aws:iot:us-west-2:1:client/x' }],
    });
    expect(normalizePolicyDocument(east)).toBe(normalizePolicyDocument(west));
  });

  it('keys certificates by id whatever the region, other principals by normalized ARN', () => {
    expect(principalKey('arn:aws:iot:us-east-1:123456789012:cert/ABCDEF0123')).toBe('ABCDEF0123');
    expect(principalKey('arn:aws:cognito-identity:us-east-1:1:identitypool/x')).toBe(
      `arn:aws:cognito-identity:${R}:1:identitypool/x`,
    );
  });

  it('reports each way a thing differs, and nothing for equal things', () => {
    expect(diffThing('t', thing(), thing())).toEqual([]);
    expect(diffThing('t', thing(), null).map((d) => d.kind)).toEqual(['missing']);
    expect(diffThing('t', null, thing()).map((d) => d.kind)).toEqual(['extra']);
    const kinds = diffThing(
      't',
      thing(),
      thing({
        type: null,
        attributes: { a: '2', b: '3' },
        groups: [],
        principals: [],
        shadows: { '': { desired: '{"x":2}', reported: null }, cfg: { desired: null, reported: '{}' } },
      }),
    ).map((d) => `${d.kind}:${d.name}`);
    expect(kinds).toEqual(['type:t', 'attributes:t', 'group:t', 'attachment:t', 'shadow:t/', 'shadow:t/cfg']);
  });

  it('orders groups parents first, whatever the listing order, and survives a cycle', () => {
    const groups = new Map([
      ['leaf', { parent: 'mid' }],
      ['mid', { parent: 'root' }],
      ['root', { parent: null }],
      ['other', { parent: null }],
    ]);
    expect(groupLevels(groups)).toEqual([['other', 'root'], ['mid'], ['leaf']]);
    const cycle = new Map([
      ['a', { parent: 'b' }],
      ['b', { parent: 'a' }],
    ]);
    expect(groupLevels(cycle).flat().sort()).toEqual(['a', 'b']);
  });

  it('names the certificate and the policy of each attachment difference, and summarizes long lists', () => {
    // Given a policy attached to 46 certificates in the primary, 44 of them plus another in the secondary
    const cert = (i: number) => i.toString(16).padStart(64, '0');
    const all = Array.from({ length: 46 }, (_, i) => cert(i + 1)).sort();
    const region = (targets: string[], principals: string[]): FleetSnapshot => ({
      region: 'r',
      things: new Map([['t', thing({ principals })]]),
      thingTypes: new Map(),
      thingGroups: new Map(),
      certificates: new Map(),
      policies: new Map<string, PolicyState>([['device', { name: 'device', document: '{}', targets: [...targets].sort() }]]),
      scope: { shadows: true, registry: true, principals: true },
    });
    const primary = region(all, [cert(1)]);
    const secondary = region([...all.slice(2), cert(99)], [cert(2)]);

    // When diffing
    const differences = diffSnapshots(primary, secondary).filter((d) => d.kind === 'attachment');

    // Then each difference names one certificate and its policy or thing
    expect(differences.map((d) => `${d.resource}:${d.name}:${d.attachment?.in}:${d.attachment?.principal}`)).toEqual([
      `policy:device:primary:${all[0]}`,
      `policy:device:primary:${all[1]}`,
      `policy:device:secondary:${cert(99)}`,
      `thing:t:primary:${cert(1)}`,
      `thing:t:secondary:${cert(2)}`,
    ]);
    expect(differences[0].detail).toBe(`certificate ${all[0]} attached to policy device in primary, not in secondary`);
    expect(differences[4].detail).toBe(`certificate ${cert(2)} attached to thing t only in secondary`);
    expect(JSON.stringify(differences).length).toBeLessThan(2000);

    // And a long list prints its count, the first few, and how many more
    const many = Array.from({ length: 46 }, (_, i) => ({
      kind: 'attachment' as const,
      resource: 'policy' as const,
      name: 'device',
      detail: `certificate ${cert(i)} attached to policy device in primary, not in secondary`,
    }));
    const lines = summarizeDifferences(many);
    expect(lines).toEqual([
      '  attachment (46)',
      `    policy device: ${many[0].detail}`,
      `    policy device: ${many[1].detail}`,
      `    policy device: ${many[2].detail}`,
      '    policy device: ... and 43 more (--json lists all)',
    ]);
    const spread = Array.from({ length: 25 }, (_, i) => ({ ...many[0], name: `p${String(i).padStart(2, '0')}` }));
    expect(summarizeDifferences(spread).at(-1)).toBe(
      '    ... and 5 more attachment difference(s) on 5 other resource(s) (--json lists all)',
    );
  });
});
