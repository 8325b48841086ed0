import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../config/load';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('Configuration', () => {
  it('resolves the built-in defaults from an empty object', () => {
    const config = parseConfig({});
    expect(config.primaryRegion).toBe('us-east-1');
    expect(config.secondaryRegion).toBe('us-west-2');
    expect(config.namePrefix).toBe('iot-dr');
    expect(config.backend).toEqual({ type: 'local' });
    expect(config.replication).toMatchObject({ mode: 'complete', itemTtlHours: 48 });
    expect(config.healthCheck).toMatchObject({ intervalSeconds: 10, failureThreshold: 3 });
    expect(config.dns).toBeUndefined();
  });

  it('synthesizes on defaults when no file exists', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-cfg-'));
    expect(loadConfig({ cwd, env: {} }).primaryRegion).toBe('us-east-1');
  });

  it.each([
    [
      { primaryRegion: 'us-east-1', secondaryRegion: 'us-east-1' },
      'secondaryRegion: primary and secondary regions must differ (both are "us-east-1")',
    ],
    [{ primaryRegion: 'us-east-9' }, 'primaryRegion: unknown region "us-east-9"'],
    [{ namePrefix: 'My_DR' }, 'namePrefix: must be 3-20 characters of lower-case letters'],
    [{ replication: { itemTtlHours: 0 } }, 'replication.itemTtlHours: must be between 1 and 720 (got 0)'],
    [{ replication: { batchSize: 1.5 } }, 'replication.batchSize: must be a whole number (got 1.5)'],
    [{ healthCheck: { intervalSeconds: 15 } }, 'healthCheck.intervalSeconds: must be 10 or 30'],
    [{ healthCheck: { failureThreshold: 11 } }, 'healthCheck.failureThreshold: must be between 1 and 10 (got 11)'],
    [{ logRetentionDays: 8 }, 'logRetentionDays: must be one of the retention periods CloudWatch Logs accepts'],
    [{ replicaton: {} }, 'unknown key "replicaton": remove it or check the spelling'],
    [{ replication: { modes: 'complete' } }, 'unknown key "modes" in replication'],
    [
      { replication: { mode: 'everything' } },
      'replication.mode: Invalid option: expected one of "complete"|"thing-only" (got "everything")',
    ],
    [{ backend: { type: 'cloud', organization: 'acme' } }, 'backend.workspace:'],
    [
      { dns: { hostedZoneId: 'zone-1', recordName: 'iot.example.com' } },
      'dns.hostedZoneId: must be a Route 53 hosted zone id',
    ],
  ])('rejects %j naming the field, value and rule', (input, expected) => {
    const problems = problemsOf(() => parseConfig(input));
    expect(problems.join('\n')).toContain(expected);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(() => parseConfig({ namePrefix: 'X', logRetentionDays: 2, extra: 1 }));
    expect(problems).toHaveLength(3);
  });

  it('reads a JSON file and lets environment variables override it', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-cfg-'));
    writeFileSync(
      join(cwd, 'iot-dr.config.json'),
      JSON.stringify({ primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' }),
    );
    const config = loadConfig({
      cwd,
      env: {
        IOT_DR_SECONDARY_REGION: 'eu-north-1',
        IOT_DR_ITEM_TTL_HOURS: '24',
        IOT_DR_CONFIG_JSON: '{"replication":{"mode":"thing-only"}}',
      },
    });
    expect(config).toMatchObject({
      primaryRegion: 'eu-west-1',
      secondaryRegion: 'eu-north-1',
      replication: { itemTtlHours: 24, mode: 'thing-only' },
    });
  });

  it('names the source and the line of a broken file', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-cfg-'));
    writeFileSync(join(cwd, 'dr.json'), '{ "primaryRegion": ');
    expect(() => loadConfig({ cwd, env: { IOT_DR_CONFIG: 'dr.json' } })).toThrow(/dr\.json[\s\S]*not valid JSON/);
  });

  it('fails when an explicitly named file does not exist', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-cfg-'));
    expect(() => loadConfig({ cwd, file: 'missing.json', env: {} })).toThrow(/missing\.json[\s\S]*file not found/);
  });

  it('rejects an environment override with the same rules as the file', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-cfg-'));
    const problems = problemsOf(() => loadConfig({ cwd, env: { IOT_DR_ITEM_TTL_HOURS: 'soon' } }));
    expect(problems.join('\n')).toContain('replication.itemTtlHours: must be a number (got "soon")');
  });
});

describe('Configuration JSON Schema', () => {
  it('is committed up to date with the zod schema (npm run config:schema)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { configJsonSchema } = require('../../scripts/config-schema');
    const committed = require('node:fs').readFileSync(join(__dirname, '..', '..', 'iot-dr.schema.json'), 'utf8');
    expect(committed).toBe(configJsonSchema());
  });
});

describe('Configuration: replication.principalGraceSeconds', () => {
  it('defaults to 300 s, the workers\' own default grace', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DEFAULT_PRINCIPAL_GRACE_SECONDS, MAX_PRINCIPAL_GRACE_SECONDS } = require('../../functions/lib/principal-grace');
    expect(parseConfig({}).replication.principalGraceSeconds).toBe(300);
    expect(DEFAULT_PRINCIPAL_GRACE_SECONDS).toBe(300);
    // The schema's upper bound is the one the workers and the workflow definition enforce.
    expect(parseConfig({ replication: { principalGraceSeconds: MAX_PRINCIPAL_GRACE_SECONDS } }).replication.principalGraceSeconds).toBe(3600);
  });

  it.each([0, 1, 40, 300, 3600])('accepts %i', (value) => {
    expect(parseConfig({ replication: { principalGraceSeconds: value } }).replication.principalGraceSeconds).toBe(value);
  });

  it.each([
    [-1, 'replication.principalGraceSeconds: must be between 0 and 3600 (got -1)'],
    [3601, 'replication.principalGraceSeconds: must be between 0 and 3600 (got 3601)'],
    [2.5, 'replication.principalGraceSeconds: must be a whole number (got 2.5)'],
    ['300', 'replication.principalGraceSeconds: must be a number (got "300")'],
  ])('rejects %p naming the field and the rule', (value, expected) => {
    const problems = problemsOf(() => parseConfig({ replication: { principalGraceSeconds: value } }));
    expect(problems.join('\n')).toContain(expected);
  });
});

describe('Configuration: replication.workflowType', () => {
  it('Given no replication settings, Then the default is EXPRESS with retry settings whose worst case fits its budget (228 s of 240 s)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wf = require('../../stacks/workflow-definition');
    const r = parseConfig({}).replication;
    expect(r).toMatchObject({ workflowType: 'EXPRESS', workflowRetryMaxAttempts: 3, workflowRetryIntervalSeconds: 2, workflowRetryMaxDelaySeconds: 10, workerTimeoutSeconds: 20 });
    const retry = { maxAttempts: 3, intervalSeconds: 2, maxDelaySeconds: 10 };
    expect(wf.worstCaseBatchItemSeconds(retry, wf.taskTimeoutFor(20))).toBe(228);
    expect(wf.EXPRESS_BUDGET_SECONDS).toBe(240);
  });

  it('Given EXPRESS with the principal grace at its maximum, Then it is accepted: the certificate wait is the slow lane\'s, not the batch\'s', () => {
    expect(parseConfig({ replication: { workflowType: 'EXPRESS', principalGraceSeconds: 3600 } }).replication.workflowType).toBe('EXPRESS');
  });

  it('Given EXPRESS with retries that cannot finish within the budget, Then it is a configuration error naming the field, the value and every share of the rule', () => {
    const problems = problemsOf(() => parseConfig({ replication: { workflowType: 'EXPRESS', workerTimeoutSeconds: 60, workflowRetryMaxAttempts: 6 } }));
    expect(problems).toHaveLength(1);
    // waits 2+4+8+10+10+10 = 44 s, 7 attempts of 70 s = 490 s; + 47 s hand-off + 47 s record
    expect(problems[0]).toBe(
      'replication.workflowType: an EXPRESS batch must finish within 240 s (Express stops at 300 s), but this configuration allows 628 s: ' +
        '534 s for a worker\'s retries (workflowRetryMaxAttempts 6 + 1 attempts of up to workerTimeoutSeconds 60 + 10 s, waits from workflowRetryIntervalSeconds 2 doubling up to workflowRetryMaxDelaySeconds 10) ' +
        '+ 47 s slow-lane hand-off + 47 s failure record; lower those fields (defaults 3, 20, 2, 10) or use "STANDARD" (got "EXPRESS")',
    );
  });

  it('Given the same settings with STANDARD, Then they are accepted (a Standard execution may run for a year)', () => {
    expect(parseConfig({ replication: { workflowType: 'STANDARD', workerTimeoutSeconds: 60, workflowRetryMaxAttempts: 6 } }).replication.workflowType).toBe('STANDARD');
  });

  it('Given an unknown workflow type, Then the error names the allowed ones', () => {
    expect(problemsOf(() => parseConfig({ replication: { workflowType: 'SYNC' } })).join('\n')).toContain(
      'replication.workflowType: Invalid option: expected one of "STANDARD"|"EXPRESS" (got "SYNC")',
    );
  });
});
