// The GetPolicy cache of one `iot-dr copy` run (cli/policy-cache.ts), on moto: one read per policy
// and region, dropped when the run itself writes the policy. Calls that reach moto are counted by
// the CLI's own limiter middleware (rate 0: counting only), which sits after the cache.
import { CreatePolicyVersionCommand, DeletePolicyVersionCommand, GetPolicyCommand, IoTClient } from '@aws-sdk/client-iot';
import { PolicyReadCache } from '../../cli/policy-cache';
import { RateLimiter } from '../../cli/rate-limits';
import { createPolicy } from '../support/fleet';
import { FAKE_CREDENTIALS, startMoto, type Moto } from '../support/moto';
import { PRIMARY, sides } from './helpers';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const document = (action: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });

it('reads a policy once, shares a read in flight, and reads again after the run writes it', async () => {
  // Given a policy, and a client with the cache in front of a call counter
  await createPolicy(sides(moto.endpoint).primary, 'shared', document('iot:Connect'));
  const client = new IoTClient({ region: PRIMARY, endpoint: moto.endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 1 });
  const counter = new RateLimiter(0);
  counter.attach(client as never);
  const cache = new PolicyReadCache();
  cache.attach(client as never, 'origin');
  const read = async () => (await client.send(new GetPolicyCommand({ policyName: 'shared' }))).policyDocument;

  // When ten things read it at once, then again
  const docs = await Promise.all(Array.from({ length: 10 }, read));
  docs.push(await read());
  // Then one call reached the service, and every reader got its document
  expect(counter.calls.get('GetPolicy')).toBe(1);
  expect(cache.answered).toBe(10);
  expect(new Set(docs.map((d) => JSON.parse(d ?? '{}').Statement[0].Action))).toEqual(new Set(['iot:Connect']));

  // When the run writes a new default version, Then the next read goes to the service and sees it
  await client.send(new CreatePolicyVersionCommand({ policyName: 'shared', policyDocument: document('iot:Publish'), setAsDefault: true }));
  expect(JSON.parse((await read()) ?? '{}').Statement[0].Action).toBe('iot:Publish');
  expect(counter.calls.get('GetPolicy')).toBe(2);
  // And a failed write drops the answer too (the policy may have changed before it failed)
  await expect(client.send(new DeletePolicyVersionCommand({ policyName: 'shared', policyVersionId: '99' }))).rejects.toBeDefined();
  await read();
  expect(counter.calls.get('GetPolicy')).toBe(3);
  // And a policy that does not exist is not remembered as missing
  await expect(client.send(new GetPolicyCommand({ policyName: 'later' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  await createPolicy(sides(moto.endpoint).primary, 'later', document('iot:Receive'));
  expect((await client.send(new GetPolicyCommand({ policyName: 'later' }))).policyName).toBe('later');
});
