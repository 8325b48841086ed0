/**
 * The cdktf app: reads the configuration and wires the stack. Run through `npm run synth` or
 * `cdktf synth|diff|deploy` (both execute scripts/app.mjs, which bundles this file with esbuild:
 * no type-checking in the synth path).
 */
import { App } from 'cdktf';
import { ConfigError, loadConfig } from './config/load';
import { IotDrStack } from './stacks/iot-dr-stack';

export function main(): App {
  const config = loadConfig();
  const app = new App({ skipValidation: false });
  new IotDrStack(app, config.namePrefix, { config, testEndpoint: process.env.IOT_DR_TEST_ENDPOINT });
  app.synth();
  return app;
}

try {
  main();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
