// `iot-dr verify --sample N` against moto: thing names compared in full (missing/extra exact), N
// things in depth, and an estimate of the drifted share with its 95 % upper bound.
import { join } from 'node:path';
import { DeleteThingCommand, UpdateThingCommand } from '@aws-sdk/client-iot';
import { sampleOf, wilsonUpper95, type VerifyReport } from '../../cli/commands/verify';
import { startMoto, type Moto } from '../support/moto';
import { cli, parseJson, scratchDir, seedFleet, sides, useFakeCredentials } from './helpers';

let moto: Moto;
let scratch: ReturnType<typeof scratchDir>;

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
  scratch = scratchDir();
});
afterAll(async () => {
  await moto?.stop();
  scratch?.cleanup();
});

describe('verify --sample', () => {
  it('bounds the drifted share with the Wilson score interval, and samples distinct items', () => {
    expect(wilsonUpper95(0, 100)).toBeCloseTo(0.037, 3);
    expect(wilsonUpper95(5, 100)).toBeCloseTo(0.1118, 3);
    expect(wilsonUpper95(0, 0)).toBe(1);
    const items = Array.from({ length: 50 }, (_, i) => i);
    let seed = 7;
    const random = (max: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % max;
    };
    const picked = sampleOf(items, 10, random);
    expect(new Set(picked).size).toBe(10);
    expect(picked.every((x) => items.includes(x))).toBe(true);
    expect(sampleOf(items, 80).length).toBe(50);
  });

  it('reports missing things exactly, drift found in the sample, and the estimate', async () => {
    // Given a copied fleet of 7 things; then one thing drifts and one is missing in the secondary
    const { primary, secondary } = sides(moto.endpoint);
    await seedFleet(primary, 6);
    const common = ['--endpoint', moto.endpoint, '--rate-limit', '0'];
    const copy = await cli(['copy', ...common, '--json', '--checkpoint', join(scratch.dir, 'cp.json')], { cwd: scratch.dir });
    expect(copy.code).toBe(0);
    await secondary.iot.send(new UpdateThingCommand({ thingName: 'dev-2', attributePayload: { attributes: { site: 'z' }, merge: true } }));
    await secondary.iot.send(new DeleteThingCommand({ thingName: 'gw-1' }));

    // When verifying with a sample larger than the fleet
    const all = await cli(['verify', ...common, '--json', '--sample', '100'], { cwd: scratch.dir });

    // Then every thing in both regions is sampled, the drift and the missing thing are reported
    expect(all.code).toBe(4);
    const report = parseJson<VerifyReport>(all.stdout);
    expect(report.sample).toMatchObject({ population: 6, size: 6, drifted: 1, estimatedDrifted: 1 });
    expect(report.sample?.driftPercent).toBeCloseTo(16.67, 1);
    expect(report.differences.map((d) => `${d.kind}:${d.name}`).sort()).toEqual(['attributes:dev-2', 'missing:gw-1']);

    // When sampling 2 things, Then 2 are read in depth, and the missing thing is still found exactly
    const two = parseJson<VerifyReport>((await cli(['verify', ...common, '--json', '--sample', '2'], { cwd: scratch.dir })).stdout);
    expect(two.sample).toMatchObject({ population: 6, size: 2 });
    expect(two.counts.primary.things).toBe(2);
    expect(two.differences.map((d) => `${d.kind}:${d.name}`)).toContain('missing:gw-1');

    // And the text report states the estimate
    const text = await cli(['verify', ...common, '--sample', '100'], { cwd: scratch.dir });
    expect(text.stdout).toMatch(/Sampled 6 of the 6 things present in both regions .*: 1 drifted, 16\.67 % \(95 % upper bound/);
  });
});
