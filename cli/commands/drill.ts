import type { CliIo } from '../io';
export async function drillCommand(_opts: unknown, _io: CliIo): Promise<number> {
  return 1;
}
