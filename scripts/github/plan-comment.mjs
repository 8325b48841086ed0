#!/usr/bin/env node
// Posts the pull request's plan as one comment, updated in place on every push (found by a hidden
// marker), and writes the same text to the job summary. Every outcome says what it is:
//
//   node scripts/github/plan-comment.mjs planned --exit-code 0|2 --plan FILE   no changes / changes
//   node scripts/github/plan-comment.mjs failed  --log FILE [--step NAME]      the error, loudly
//   node scripts/github/plan-comment.mjs skipped --reason TEXT                 NOT planned, loudly
//
// Options for all: --stack NAME, --sha SHA, --run-url URL, --deployable yes|no (planned only:
// whether a reviewed-plan artifact was kept for deploy.yml). Environment: GITHUB_TOKEN,
// GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_STEP_SUMMARY, and the pull request number from
// PR_NUMBER or the event payload (GITHUB_EVENT_PATH).
//
// A token that may not comment (a pull request from a fork gets a read-only one) is not an
// error: the job summary and a workflow warning carry the message instead. Exit codes: 0 done,
// 1 GitHub refused otherwise, 2 usage.
import { appendFileSync, existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { github } from './api.mjs';

export const MARKER = '<!-- iot-dr-plan -->';
/** GitHub refuses comment bodies over 65536 characters; keep room for the frame. */
export const PLAN_LIMIT = 60_000;
const ERROR_TAIL_LINES = 60;

function fence(text) {
  // A plan containing ``` would close the block: use a longer fence than any run inside.
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  return `${f}\n${text.replace(/\s+$/, '')}\n${f}`;
}

function truncate(text, limit) {
  return text.length > limit
    ? `${text.slice(0, limit)}\n... (truncated: ${text.length - limit} more characters in the job log)`
    : text;
}

/** The comment (and job summary) for one outcome. */
export function render(status, o) {
  const where = [
    o.stack && `stack \`${o.stack}\``,
    o.sha && `commit ${o.sha.slice(0, 12)}`,
    o.runUrl && `[run](${o.runUrl})`,
  ]
    .filter(Boolean)
    .join(' · ');
  const footer = where ? `\n\n<sub>${where}</sub>` : '';
  if (status === 'planned') {
    const changes = o.exitCode === '2';
    const headline = changes
      ? '### iot-dr plan: changes (primary + secondary)'
      : '### iot-dr plan: no changes (primary + secondary)';
    const deploy =
      o.deployable === 'no'
        ? '\n\n> [!WARNING]\n> This plan was **not kept for deployment** (secret `PLAN_ARTIFACT_KEY` is not set): `deploy.yml` will refuse to apply it.'
        : '';
    const plan = truncate(o.plan ?? '', PLAN_LIMIT);
    return `${MARKER}\n${headline}${deploy}\n\n<details><summary>terraform plan</summary>\n\n${fence(plan)}\n</details>${footer}`;
  }
  if (status === 'failed') {
    const lines = (o.log ?? '').replace(/\s+$/, '').split('\n');
    const tail = lines.slice(-ERROR_TAIL_LINES).join('\n');
    const cut = lines.length > ERROR_TAIL_LINES ? `(last ${ERROR_TAIL_LINES} of ${lines.length} lines)\n` : '';
    return `${MARKER}\n### :x: iot-dr plan FAILED${o.step ? ` (${o.step})` : ''}\n\n> [!CAUTION]\n> There is **no current plan** for this commit. Any plan shown before is out of date.\n\n${cut}${fence(truncate(tail, PLAN_LIMIT))}${footer}`;
  }
  return `${MARKER}\n### :warning: iot-dr plan SKIPPED: nothing was planned\n\n> [!WARNING]\n> ${o.reason}. This is **not** "no changes": the effect of this pull request on both regions is unknown, and \`deploy.yml\` will refuse to apply it.${footer}`;
}

function prNumber(env) {
  if (env.PR_NUMBER) return Number(env.PR_NUMBER);
  if (env.GITHUB_EVENT_PATH && existsSync(env.GITHUB_EVENT_PATH)) {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
    if (event.pull_request?.number) return event.pull_request.number;
  }
  throw new Error('no pull request number (PR_NUMBER, or a pull_request event)');
}

/** Creates or updates the marked comment; returns 'created' | 'updated' | 'forbidden'. */
export async function upsert(body, env = process.env) {
  const gh = github(env);
  const issue = prNumber(env);
  const comments = await gh.paginate(`${gh.repoPath}/issues/${issue}/comments`);
  const mine = comments.find((c) => typeof c.body === 'string' && c.body.includes(MARKER));
  try {
    if (mine) {
      await gh.request('PATCH', `${gh.repoPath}/issues/comments/${mine.id}`, { body });
      return 'updated';
    }
    await gh.request('POST', `${gh.repoPath}/issues/${issue}/comments`, { body });
    return 'created';
  } catch (err) {
    if (err.status === 403) return 'forbidden';
    throw err;
  }
}

export async function main(argv = process.argv.slice(2), env = process.env) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'exit-code': { type: 'string' },
      plan: { type: 'string' },
      log: { type: 'string' },
      step: { type: 'string' },
      reason: { type: 'string' },
      stack: { type: 'string' },
      sha: { type: 'string' },
      'run-url': { type: 'string' },
      deployable: { type: 'string' },
    },
  });
  const status = positionals[0];
  const read = (f) => (f && existsSync(f) ? readFileSync(f, 'utf8') : '');
  const usage = (m) => {
    console.error(`plan-comment: ${m}`);
    return 2;
  };
  if (!['planned', 'failed', 'skipped'].includes(status)) return usage('first argument: planned | failed | skipped');
  if (status === 'planned' && !['0', '2'].includes(values['exit-code'] ?? '')) {
    return usage('planned needs --exit-code 0 (no changes) or 2 (changes)');
  }
  if (status === 'skipped' && !values.reason) return usage('skipped needs --reason');
  const body = render(status, {
    exitCode: values['exit-code'],
    plan: read(values.plan),
    log: read(values.log) || '(no output was captured)',
    step: values.step,
    reason: values.reason,
    stack: values.stack,
    sha: values.sha,
    runUrl: values['run-url'],
    deployable: values.deployable,
  });
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, `${body.replace(MARKER, '').trim()}\n`);
  if (status !== 'planned') {
    const title = status === 'failed' ? 'iot-dr plan failed' : 'iot-dr plan skipped';
    console.log(
      `::warning title=${title}::${(status === 'failed' ? 'see the plan step log' : values.reason).replace(/\n/g, ' ')}`,
    );
  }
  try {
    const done = await upsert(body, env);
    if (done === 'forbidden') {
      console.log(
        '::warning title=plan comment not posted::this token may not comment (a pull request from a fork?); the job summary has the plan',
      );
    } else {
      console.log(`plan comment ${done}`);
    }
    return 0;
  } catch (err) {
    console.error(`plan-comment: ${err.message}`);
    return 1;
  }
}

if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1])) {
  main().then((code) => process.exit(code));
}
