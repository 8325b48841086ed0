// The shared moto harness (__tests__/support/moto.ts): loopback port, AWS-style certificate ids,
// reset, and a stop that really ends the server.
import { CreateKeysAndCertificateCommand, ListThingsCommand, CreateThingCommand } from '@aws-sdk/client-iot';
import { certificateIdFromPem } from '../../functions/lib/replication';
import { motoIot, startMoto } from '../support/moto';

describe('Harness: startMoto', () => {
  it('serves on 127.0.0.1, computes AWS certificate ids, resets, and stops', async () => {
    const moto = await startMoto();
    try {
      expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const iot = motoIot(moto.endpoint, 'eu-west-1');
      const cert = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      expect(cert.certificateId).toBe(certificateIdFromPem(cert.certificatePem as string));

      await iot.send(new CreateThingCommand({ thingName: 'x' }));
      await moto.reset();
      expect((await iot.send(new ListThingsCommand({}))).things).toEqual([]);
    } finally {
      await moto.stop();
    }
    await expect(fetch(`${moto.endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    await moto.stop(); // idempotent
  });
});
