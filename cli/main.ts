/**
 * `iot-dr`: copy an existing fleet to the secondary, verify both regions match, fail back, run a local DR
 * drill. `run(argv, io)` is the whole CLI and returns the exit code (tests call it in-process);
 * `main()` is what `bin/iot-dr.js` calls.
 */
import { Command, CommanderError, Option } from 'commander';
import { version } from '../package.json';
import { EXIT, ExternalError, isAwsError, UsageError } from './errors';
import { processIo, writeLine, type CliIo } from './io';
import { intOption, prefixOption, quotaOption, urlOption } from './options';

const EXIT_CODES_HELP = `
Exit codes:
  0    success (verify: the regions match; failback: safe to let DNS return)
  1    internal error (a bug: please report it with the output)
  2    usage: a bad argument, option or configuration (the message names it)
  3    external: AWS (or the emulator) failed or refused a call
  4    differences found (verify, drill), some items failed (copy; they are listed), or failback
       not safe yet (health needs attention, items failed or differences remain)
  130  interrupted (copy: the checkpoint was saved; run the same command to resume)`;

function globalOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (the same one the stack reads)', undefined)
    .addOption(
      new Option(
        '--endpoint <url>',
        'send every AWS call to this endpoint (an emulator such as moto server)',
      ).argParser(urlOption),
    )
    .addOption(
      new Option(
        '--rate-limit <percent>',
        'share of each AWS IoT API quota to use per second, 0 disables the client-side limit',
      )
        .argParser(intOption(0, 100))
        .default(80),
    )
    .addOption(
      new Option(
        '--quota <operation=tps>',
        "your account's quota of an API operation where you raised it (repeatable), e.g. ListThingPrincipals=50",
      ).argParser(quotaOption),
    );
}

function filterOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--prefix <name>', 'only things whose name starts with <name>')
        .argParser(prefixOption)
        .conflicts('query'),
    )
    .option(
      '--query <fleet-index-query>',
      "only things a fleet indexing query finds (SearchIndex), e.g. 'thingName:sensor-* AND attributes.site:paris'",
    );
}

/** Where errors go: `--json` makes them one JSON object on stdout, for machines. */
interface ErrorOutput {
  readonly json: boolean;
  /** Commander's own message for a usage error, kept for `report` to print in the one format. */
  commanderMessage?: string;
}

/** Builds the command tree; actions set `result.code`. */
export function buildProgram(io: CliIo, result: { code: number }, errors: ErrorOutput = { json: false }): Command {
  const program = new Command('iot-dr')
    .description(
      'Disaster recovery for AWS IoT Core: copy an existing fleet to the secondary region, verify both regions match, fail back after an outage, run a local DR drill.',
    )
    .version(version)
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      // With --json, nothing but the JSON error: the "(add --help ...)" hint is dropped.
      writeErr: (s) => (errors.json ? undefined : io.stderr.write(s)),
      // "error: unknown option ..." is printed by `report`, with the CLI's one prefix.
      outputError: (s) => {
        errors.commanderMessage = s.trim().replace(/^error: /, '');
      },
    });

  const copy = program
    .command('copy')
    .description(
      'Copy the fleet from the primary to the secondary region: thing types, thing groups (hierarchy, memberships), things (type, attributes), certificates (registered without a CA, same status), policies (region rewritten in ARNs) and their attachments, classic and named shadows.',
    )
    .addOption(
      new Option('--concurrency <n>', 'things copied at the same time').argParser(intOption(1, 256)).default(16),
    )
    .option(
      '--checkpoint <file>',
      'progress file: an interrupted copy resumes from it; removed after a copy without failures',
      '.iot-dr-checkpoint.json',
    )
    .addOption(
      new Option(
        '--limit <n>',
        'copy at most <n> things in this run (a migration in batches); the next run continues from the checkpoint',
      ).argParser(intOption(1, 100_000_000)),
    )
    .addOption(
      new Option(
        '--read-mode <mode>',
        "how things are read from the primary: 'index' (fleet indexing's SearchIndex, 100 things per call with type, attributes, groups and indexed shadows), 'api' (per-thing calls), 'auto' (index when thing indexing is on)",
      )
        .choices(['auto', 'index', 'api'])
        .default('auto'),
    )
    .option('--dry-run', 'write nothing: compare both regions and report what a copy would change', false)
    .option('--json', 'print the summary as JSON (for machines)', false)
    .option('-q, --quiet', 'no progress output', false);
  globalOptions(filterOptions(copy)).action(async (opts) => {
    const { copyCommand } = await import('./commands/copy');
    result.code = await copyCommand(opts, io);
  });

  const verify = program
    .command('verify')
    .description(
      'Compare both regions and report each difference by kind (missing, extra, attributes, type, group, hierarchy, certificate, policy, attachment, shadow). Exit 0 only when they match.',
    )
    .addOption(new Option('--concurrency <n>', 'reads in flight per region').argParser(intOption(1, 256)).default(16))
    .option('--no-shadows', 'do not compare shadows (faster)')
    .addOption(
      new Option(
        '--sample <n>',
        'fast statistical check of a large fleet: compare thing names, types and groups in full, and N things chosen at random in depth; reports the estimated share of drifted things with a 95 % upper bound',
      ).argParser(intOption(1, 1_000_000)),
    )
    .option('--json', 'print the report as JSON (for machines)', false);
  globalOptions(filterOptions(verify)).action(async (opts) => {
    const { verifyCommand } = await import('./commands/verify');
    result.code = await verifyCommand(opts, io);
  });

  const failback = program
    .command('failback')
    .description(
      'After a failover: check replication health (DLQs, failure tables, stream lag) in both regions, show what differs (what the secondary changed since --since), bring the primary up to date through the replication library without overwriting anything newer, verify both regions match, and say whether DNS may return to the primary.',
    )
    .option(
      '--since <time>',
      'when the failover happened (ISO 8601 or epoch seconds): shadow data the primary holds from before it and the secondary no longer has is removed',
    )
    .addOption(new Option('--concurrency <n>', 'things synced at the same time').argParser(intOption(1, 256)).default(16))
    .option('--dry-run', 'write nothing: report health and the differences a failback would bring back', false)
    .option('--force', 'bring the primary up to date even when replication health needs attention', false)
    .option('--json', 'print the report as JSON (for machines)', false)
    .option('-q, --quiet', 'no progress output', false);
  globalOptions(filterOptions(failback)).action(async (opts) => {
    const { failbackCommand } = await import('./commands/failback');
    result.code = await failbackCommand(opts, io);
  });

  program
    .command('drill')
    .description(
      'Run a DR drill on this machine, without an AWS account: start moto server (the AWS emulator) and local MQTT brokers, seed a fleet in the primary, replicate it through the real replication path in the shape the stack deploys (stream batches of replication.batchSize; replication.workflowType EXPRESS: one Express execution per batch plus the Standard slow lane, STANDARD: one execution per event), verify, then take the primary broker down and show both health verdicts and the failover decision, then fail back, with timings.',
    )
    .addOption(new Option('--things <n>', 'things to seed in the primary').argParser(intOption(1, 10000)).default(20))
    .addOption(
      new Option('--timeout <seconds>', 'overall time limit; everything started is cleaned up when it expires')
        .argParser(intOption(10, 3600))
        .default(120),
    )
    .option('-c, --config <file>', 'configuration file (regions, replication settings, health check interval and failure threshold)')
    .option('--json', 'print the drill report as JSON', false)
    .action(async (opts) => {
      const { drillCommand } = await import('./commands/drill');
      result.code = await drillCommand(opts, io);
    });

  return program;
}

/** Runs the CLI with `argv` (the arguments after the program name); resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const result = { code: EXIT.OK as number };
  const errors: ErrorOutput = { json: argv.includes('--json') };
  const program = buildProgram(io, result, errors);
  try {
    if (argv.length === 0) {
      // A usage error: the help goes to stderr, so nothing reads it as a command's output.
      program.outputHelp({ error: true });
      return EXIT.USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (err) {
    return report(err, io, errors);
  }
}

/** One failure as the CLI reports it: `iot-dr: <kind> error: <message>`, or JSON with `--json`. */
interface Failure {
  readonly kind: 'usage' | 'external' | 'internal';
  readonly exitCode: number;
  readonly message: string;
  readonly cause?: string;
  readonly hint?: string;
}

const CREDENTIALS_HINT =
  'no AWS credentials were found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them; with an emulator, pass --endpoint';

function isMissingCredentials(err: unknown): boolean {
  const e = err as { name?: string; cause?: unknown } | null;
  return e?.name === 'CredentialsProviderError' || (e?.cause !== undefined && isMissingCredentials(e.cause));
}

/** Sorts an error into usage / external / internal. */
export function classify(err: unknown, commanderMessage?: string): Failure | undefined {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
      return undefined;
    }
    return { kind: 'usage', exitCode: EXIT.USAGE, message: commanderMessage ?? err.message.replace(/^error: /, '') };
  }
  if (err instanceof UsageError) return { kind: 'usage', exitCode: EXIT.USAGE, message: err.message };
  if (err instanceof ExternalError || isAwsError(err) || isAwsError((err as { cause?: unknown } | null)?.cause)) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
    const cause = e.cause && !(e instanceof ExternalError) ? String((e.cause as Error).message ?? e.cause) : undefined;
    return {
      kind: 'external',
      exitCode: EXIT.EXTERNAL,
      message: `${e.name}: ${e.message}${status}`,
      ...(cause ? { cause } : {}),
      ...(isMissingCredentials(err) ? { hint: CREDENTIALS_HINT } : {}),
    };
  }
  const e = err as Error;
  return { kind: 'internal', exitCode: EXIT.INTERNAL, message: e?.stack ?? String(err) };
}

/** Prints an error (one prefix, or one JSON object on stdout with `--json`); returns the exit code. */
export function report(err: unknown, io: CliIo, errors: ErrorOutput = { json: false }): number {
  const failure = classify(err, errors.commanderMessage);
  if (!failure) return EXIT.OK;
  if (errors.json) {
    writeLine(io.stdout, JSON.stringify({ error: failure }));
    return failure.exitCode;
  }
  const kind = failure.kind === 'usage' ? '' : `${failure.kind} `;
  writeLine(io.stderr, `iot-dr: ${kind}error: ${failure.message}`);
  if (failure.cause) writeLine(io.stderr, `  cause: ${failure.cause}`);
  if (failure.hint) writeLine(io.stderr, `  hint: ${failure.hint}`);
  if (failure.kind === 'usage' && err instanceof CommanderError) writeLine(io.stderr, '(add --help for usage)');
  return failure.exitCode;
}

/** Entry point of the executable: SIGINT aborts gracefully once, then exits. */
export function main(): void {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
    process.stderr.write(
      '\niot-dr: interrupted; finishing the items in flight and saving progress (Ctrl-C again to quit now)\n',
    );
    controller.abort();
  });
  // Exit as soon as the command is done: idle keep-alive sockets and timers of the SDK clients
  // and MQTT clients the command used would otherwise hold the process open for seconds.
  // (stdout and stderr are synchronous for files, pipes and terminals on Linux and macOS.)
  run(process.argv.slice(2), processIo(controller.signal)).then(
    (code) => process.exit(code),
    (err) => process.exit(report(err, processIo())),
  );
}
