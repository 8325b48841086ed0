// Pure parts of the fleet library: normalization, diff of single things, group ordering.
import {
  canonicalJson,
  diffThing,
  groupLevels,
  normalizeArnRegions,
  normalizePolicyDocument,
  principalKey,
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
});
