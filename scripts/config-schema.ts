/**
 * Writes iot-dr.schema.json, the JSON Schema of the configuration file, from the zod schema (so
 * editors validate and complete iot-dr.config.json). `npm run config:schema` regenerates it; a
 * test fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { configSchema } from '../config/schema';

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'iot-dr configuration' }, null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(join(__dirname, '..', 'iot-dr.schema.json'), configJsonSchema());
}
