/**
 * The workflows' GitHub scripts, run as the workflows run them (child processes), against a fake
 * of the GitHub REST API on loopback: scripts/github/plan-comment.mjs (pr-plan.yml) for a first
 * plan, an updated plan, a failed plan, a skipped plan and a fork's read-only token, and
 * scripts/github/reviewed-plan.mjs (deploy.yml). The fake implements the endpoints the scripts
 * call, with GitHub's pagination (Link rel="next", per_page) and 403 for a read-only token.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const MARKER = '<!-- iot-dr-plan -->';

interface Comment {
  id: number;
  body: string;
  user: { login: string };
}

/** The GitHub state the fake serves, and the writes it received. */
class FakeGitHub {
  comments: Comment[] = [];
  writes: { method: string; path: string; body: string }[] = [];
  pulls: Record<string, object[]> = {};
  runs: Record<string, object[]> = {};
  artifacts: Record<string, object[]> = {};
  private nextId = 1000;
  private server?: Server;
  url = '';

  addComment(body: string): Comment {
    const c = { id: this.nextId++, body, user: { login: 'someone' } };
    this.comments.push(c);
    return c;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req).then(
        ([status, body, headers]) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(JSON.stringify({ message: err.message }));
        },
      );
    });
    const server = this.server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }

  private page<T>(items: T[], url: URL): [T[], Record<string, string>] {
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
    const page = Number(url.searchParams.get('page') ?? 1);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const headers: Record<string, string> = {};
    if (page * perPage < items.length) {
      const next = new URL(url);
      next.searchParams.set('page', String(page + 1));
      headers.link = `<${this.url}${next.pathname}${next.search}>; rel="next"`;
    }
    return [slice, headers];
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown, Record<string, string>?]> {
    const url = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const token = req.headers.authorization;
    if (token !== 'Bearer write-token' && token !== 'Bearer read-token') return [401, { message: 'Bad credentials' }];
    const p = url.pathname;
    const on = (method: string, re: RegExp) => (req.method === method ? re.exec(p) : null);
    if (on('GET', /^\/repos\/acme\/fleet\/issues\/(\d+)\/comments$/)) {
      const [items, headers] = this.page(this.comments, url);
      return [200, items, headers];
    }
    if (req.method !== 'GET') {
      if (token === 'Bearer read-token') return [403, { message: 'Resource not accessible by integration' }];
      this.writes.push({ method: req.method ?? '', path: p, body: raw });
    }
    if (on('POST', /^\/repos\/acme\/fleet\/issues\/(\d+)\/comments$/)) {
      return [201, this.addComment(JSON.parse(raw).body)];
    }
    const patch = on('PATCH', /^\/repos\/acme\/fleet\/issues\/comments\/(\d+)$/);
    if (patch) {
      const c = this.comments.find((x) => x.id === Number(patch[1]));
      if (!c) return [404, { message: 'Not Found' }];
      c.body = JSON.parse(raw).body;
      return [200, c];
    }
    const pulls = on('GET', /^\/repos\/acme\/fleet\/commits\/(\w+)\/pulls$/);
    if (pulls) return [200, this.pulls[pulls[1]] ?? []];
    if (on('GET', /^\/repos\/acme\/fleet\/actions\/workflows\/pr-plan\.yml\/runs$/)) {
      const runs = this.runs[url.searchParams.get('head_sha') ?? ''] ?? [];
      const [items, headers] = this.page(runs, url);
      return [200, { total_count: runs.length, workflow_runs: items }, headers];
    }
    const artifacts = on('GET', /^\/repos\/acme\/fleet\/actions\/runs\/(\d+)\/artifacts$/);
    if (artifacts) {
      const list = this.artifacts[artifacts[1]] ?? [];
      return [200, { total_count: list.length, artifacts: list }];
    }
    return [404, { message: `Not Found: ${req.method} ${p}` }];
  }
}

function run(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', 'github', script), ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('pr-plan.yml: scripts/github/plan-comment.mjs against a fake GitHub API', () => {
  const gh = new FakeGitHub();
  let dir: string;
  let env: Record<string, string>;
  const comment = (args: string[], token = 'write-token') =>
    run('plan-comment.mjs', args, { ...env, GITHUB_TOKEN: token });
  const marked = () => gh.comments.filter((c) => c.body.includes(MARKER));
  const summary = () => readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8');

  beforeAll(async () => {
    await gh.start();
    dir = mkdtempSync(join(tmpdir(), 'plan-comment-'));
    // 150 other comments: the plan comment, once there, is on the second page.
    for (let i = 0; i < 150; i++) gh.addComment(`review comment ${i}`);
    writeFileSync(join(dir, 'event.json'), JSON.stringify({ pull_request: { number: 7 } }));
    env = {
      GITHUB_API_URL: gh.url,
      GITHUB_REPOSITORY: 'acme/fleet',
      GITHUB_EVENT_PATH: join(dir, 'event.json'),
      GITHUB_STEP_SUMMARY: join(dir, 'summary.md'),
    };
  });
  afterAll(() => gh.stop());
  beforeEach(() => {
    writeFileSync(env.GITHUB_STEP_SUMMARY, '');
    gh.writes = [];
  });

  it('Given no plan comment yet, When a plan with changes is posted, Then one comment is created with the plan and the summary has it', async () => {
    writeFileSync(join(dir, 'plan.txt'), 'Plan: 42 to add, 0 to change, 0 to destroy.\n');
    const r = await comment([
      'planned',
      '--exit-code',
      '2',
      '--plan',
      join(dir, 'plan.txt'),
      '--stack',
      'acme-dr',
      '--sha',
      'abc123def4567890',
    ]);
    expect(r).toMatchObject({ code: 0 });
    expect(gh.writes.map((w) => `${w.method} ${w.path}`)).toEqual(['POST /repos/acme/fleet/issues/7/comments']);
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('### iot-dr plan: changes (primary + secondary)');
    expect(marked()[0].body).toContain('Plan: 42 to add');
    expect(marked()[0].body).toContain('stack `acme-dr`');
    expect(summary()).toContain('Plan: 42 to add');
  });

  it('Given the plan comment on page 2, When a new plan is posted, Then that comment is updated in place (no second one)', async () => {
    writeFileSync(join(dir, 'plan.txt'), 'No changes. Your infrastructure matches the configuration.\n');
    const id = marked()[0].id;
    const r = await comment(['planned', '--exit-code', '0', '--plan', join(dir, 'plan.txt')]);
    expect(r).toMatchObject({ code: 0 });
    expect(gh.writes.map((w) => `${w.method} ${w.path}`)).toEqual([`PATCH /repos/acme/fleet/issues/comments/${id}`]);
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('### iot-dr plan: no changes');
    expect(marked()[0].body).not.toContain('42 to add');
  });

  it('Given a failed plan, When reported, Then the same comment now shows the error and says there is no current plan', async () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    lines.push('Error: No valid credential sources found for AWS Provider.');
    writeFileSync(join(dir, 'plan.log'), lines.join('\n'));
    const r = await comment(['failed', '--log', join(dir, 'plan.log'), '--step', 'terraform init/plan']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('::warning title=iot-dr plan failed::');
    expect(marked()).toHaveLength(1);
    const body = marked()[0].body;
    expect(body).toContain('iot-dr plan FAILED (terraform init/plan)');
    expect(body).toContain('Error: No valid credential sources found');
    expect(body).toContain('no current plan');
    expect(body).not.toContain('No changes. Your infrastructure');
    expect(body).not.toContain('line 10\n'); // only the tail
    expect(summary()).toContain('iot-dr plan FAILED');
  });

  it('Given no plan role, When skipped, Then the comment and the job summary say loudly that nothing was planned', async () => {
    const reason = 'the repository variable AWS_PLAN_ROLE_ARN is not set, so there are no AWS credentials to plan with';
    const r = await comment(['skipped', '--reason', reason]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '::warning title=iot-dr plan skipped::the repository variable AWS_PLAN_ROLE_ARN is not set',
    );
    expect(marked()).toHaveLength(1);
    expect(marked()[0].body).toContain('iot-dr plan SKIPPED: nothing was planned');
    expect(marked()[0].body).toContain('AWS_PLAN_ROLE_ARN is not set');
    expect(marked()[0].body).toContain('**not** "no changes"');
    expect(summary()).toContain('SKIPPED');
  });

  it("Given a fork's read-only token, When skipped, Then nothing is written but the job summary and a warning carry the message (exit 0)", async () => {
    const before = marked()[0].body;
    const r = await comment(['skipped', '--reason', 'pull requests from forks get no AWS credentials'], 'read-token');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('::warning title=plan comment not posted::');
    expect(marked()[0].body).toBe(before);
    expect(summary()).toContain('pull requests from forks get no AWS credentials');
  });

  it('Given a huge plan containing a code fence, When posted, Then it is truncated under the comment limit and the fence cannot break out', async () => {
    writeFileSync(join(dir, 'plan.txt'), `\`\`\`\n${'x'.repeat(70_000)}`);
    const r = await comment(['planned', '--exit-code', '2', '--plan', join(dir, 'plan.txt')]);
    expect(r.code).toBe(0);
    const body = marked()[0].body;
    expect(body.length).toBeLessThan(65_536);
    expect(body).toContain('(truncated:');
    expect(body).toContain('````\n```\nxxx');
  });

  it('Given bad usage or bad credentials, Then it exits 2 or 1 with the reason', async () => {
    expect((await comment(['planned', '--exit-code', '1'])).code).toBe(2);
    expect((await comment(['skipped'])).code).toBe(2);
    const r = await comment(['skipped', '--reason', 'x'], 'wrong-token');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HTTP 401 (Bad credentials)');
  });
});

describe('deploy.yml: scripts/github/reviewed-plan.mjs against a fake GitHub API', () => {
  const gh = new FakeGitHub();
  let env: Record<string, string>;
  let outputs: string;
  const find = (sha: string) => run('reviewed-plan.mjs', [sha], { ...env, GITHUB_TOKEN: 'read-token' });

  beforeAll(async () => {
    await gh.start();
    const dir = mkdtempSync(join(tmpdir(), 'reviewed-plan-'));
    outputs = join(dir, 'outputs');
    env = { GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/fleet', GITHUB_OUTPUT: outputs };
    const pr = (number: number, head: string, merge: string) => ({
      number,
      merged_at: '2026-12-01T00:00:00Z',
      merge_commit_sha: merge,
      head: { sha: head },
    });
    gh.pulls = { m1: [pr(7, 'h7', 'm1')], m2: [pr(8, 'h8', 'm2')], m3: [pr(9, 'h9', 'm3')] };
    gh.runs = {
      h7: [
        { id: 71, run_number: 3, run_attempt: 1, conclusion: 'success' },
        { id: 70, run_number: 2, run_attempt: 1, conclusion: 'failure' },
      ],
      h8: [
        { id: 81, run_number: 5, run_attempt: 1, conclusion: 'failure', html_url: 'https://example.invalid/run/81' },
      ],
      h9: [{ id: 91, run_number: 6, run_attempt: 1, conclusion: 'success' }],
    };
    gh.artifacts = { '71': [{ name: 'iot-dr-plan', expired: false }], '91': [] };
  });
  afterAll(() => gh.stop());
  beforeEach(() => writeFileSync(outputs, ''));

  it('Given a merged pull request whose last plan succeeded and was kept, Then it names that run', async () => {
    const r = await find('m1');
    expect(r).toMatchObject({ code: 0 });
    expect(readFileSync(outputs, 'utf8')).toBe('run-id=71\npr=7\nhead-sha=h7\n');
  });

  it.each([
    ['a commit pushed without a pull request', 'direct', 'was not merged through a pull request'],
    ['a pull request whose last plan failed', 'm2', 'is failure, not success'],
    ['a pull request whose plan was skipped (no artifact)', 'm3', 'kept no iot-dr-plan artifact'],
  ])('Given %s, Then the deploy is refused with the reason', async (_label, sha, reason) => {
    const r = await find(sha);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('::error title=no reviewed plan::');
    expect(r.stderr).toContain(reason);
    expect(readFileSync(outputs, 'utf8')).toBe('');
  });
});
