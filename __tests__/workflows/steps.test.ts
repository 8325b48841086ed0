/**
 * The workflows' own shell steps, run by bash as the runner would, with `terraform` replaced by a
 * fake on PATH (no HashiCorp download, no AWS): the plan gate, the plan step's exit codes, the
 * encrypted plan artifact and deploy's check that main's Terraform is the planned one. Plus the
 * wiring actionlint cannot judge (which folder, which hostname, which plan is applied).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
  'working-directory'?: string;
  if?: string;
};
const steps = (file: string): Step[] => {
  const doc = parse(readFileSync(join(ROOT, '.github', 'workflows', file), 'utf8'));
  return Object.values(doc.jobs as Record<string, { steps: Step[] }>).flatMap((j) => j.steps);
};
const step = (file: string, name: string): Step => {
  const found = steps(file).find((s) => s.name === name);
  if (!found?.run) throw new Error(`${file}: no run step "${name}"`);
  return found;
};

/** Runs a step's script with bash -e (as GitHub does), returning status, outputs and stderr. */
function runStep(s: Step, env: Record<string, string>, cwd: string) {
  const tmp = mkdtempSync(join(tmpdir(), 'step-'));
  const outputs = join(tmp, 'outputs');
  writeFileSync(outputs, '');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', s.run as string], {
    cwd,
    env: { PATH: process.env.PATH ?? '', RUNNER_TEMP: tmp, GITHUB_OUTPUT: outputs, GITHUB_WORKSPACE: cwd, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = Object.fromEntries(
    readFileSync(outputs, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, outputs: out, tmp };
}

/** A `terraform` that plans per FAKE_TF: changes (exit 2), none (0), fail-init, fail-plan. */
function fakeTerraform(): string {
  const bin = mkdtempSync(join(tmpdir(), 'fake-tf-'));
  writeFileSync(
    join(bin, 'terraform'),
    `#!/usr/bin/env bash
case "$1" in
  init) if [ "$FAKE_TF" = fail-init ]; then echo "Error: Failed to get existing workspaces: AccessDenied" >&2; exit 1; fi; echo "Terraform has been successfully initialized!";;
  plan) if [ "$FAKE_TF" = fail-plan ]; then echo "Error: No valid credential sources found" >&2; exit 1; fi
        for a in "$@"; do case "$a" in -out=*) echo planfile > "\${a#-out=}";; esac; done
        if [ "$FAKE_TF" = changes ]; then echo "Plan: 3 to add"; exit 2; fi; echo "No changes."; exit 0;;
  show) echo "shown: $(cat "$3")";;
  *) echo "unexpected terraform $*" >&2; exit 9;;
esac
`,
  );
  chmodSync(join(bin, 'terraform'), 0o755);
  return bin;
}

describe('pr-plan.yml steps', () => {
  const gate = step('pr-plan.yml', 'Can this pull request be planned?');

  it.each([
    ['a branch of this repository with a plan role', '(none: plan)', 'arn:aws:iam::1:role/plan', 'acme/fleet', ''],
    ['no AWS_PLAN_ROLE_ARN', 'no role', '', 'acme/fleet', 'AWS_PLAN_ROLE_ARN is not set'],
    ['a fork', 'fork', 'arn:aws:iam::1:role/plan', 'someone/fleet', 'pull requests from forks'],
  ])('gate: Given %s, Then the skip reason is %s', (_label, _what, role, head, reason) => {
    const r = runStep(gate, { PLAN_ROLE: role, HEAD_REPO: head, BASE_REPO: 'acme/fleet' }, ROOT);
    expect(r.status).toBe(0);
    if (reason) expect(r.outputs.skip).toContain(reason);
    else expect(r.outputs.skip).toBe('');
  });

  const plan = step('pr-plan.yml', 'Plan');
  const bin = fakeTerraform();
  const path = `${bin}:${process.env.PATH}`;

  it.each([
    ['changes', '2', 'shown: planfile'],
    ['none', '0', 'shown: planfile'],
  ])(
    'plan: Given a plan with %s, Then the step succeeds with exitcode=%s and the plan text is kept',
    (fake, code, shown) => {
      const dir = mkdtempSync(join(tmpdir(), 'stack-'));
      const r = runStep(plan, { FAKE_TF: fake, PATH: path }, dir);
      expect(r.status).toBe(0);
      expect(r.outputs.exitcode).toBe(code);
      expect(readFileSync(join(r.tmp, 'plan.txt'), 'utf8')).toContain(shown);
      expect(existsSync(join(dir, 'tfplan'))).toBe(true);
    },
  );

  it.each([
    ['fail-init', 'Failed to get existing workspaces'],
    ['fail-plan', 'No valid credential sources found'],
  ])('plan: Given %s, Then the step fails, exitcode=1, and plan.log holds the error for the comment', (fake, error) => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-'));
    const r = runStep(plan, { FAKE_TF: fake, PATH: path }, dir);
    expect(r.status).toBe(1);
    expect(r.outputs.exitcode).toBe('1');
    expect(readFileSync(join(r.tmp, 'plan.log'), 'utf8')).toContain(error);
    expect(r.stdout).toContain(error); // also in the job log
  });

  it('wiring: plans in the stack folder named by the manifest, with TFE credentials for the synthesized hostname, and runs no test suite', () => {
    const all = steps('pr-plan.yml');
    expect(step('pr-plan.yml', 'Plan')['working-directory']).toBe('${{ steps.synth.outputs.dir }}');
    expect(step('pr-plan.yml', 'Synthesize').run).toContain('node scripts/manifest.mjs stack-dir');
    const tf = all.find((s) => s.uses?.startsWith('hashicorp/setup-terraform'));
    expect(tf?.with?.cli_config_credentials_hostname).toContain('steps.synth.outputs.tfe-hostname');
    expect(all.filter((s) => /npm (run )?test|npm run jest/.test(s.run ?? ''))).toEqual([]);
    expect(JSON.stringify(all)).not.toContain('cdktf.out/stacks/iot-dr');
    const failure = step('pr-plan.yml', 'Comment the failure on the pull request');
    expect(failure.if).toBe('failure()');
    expect(failure.run).toContain('plan-comment.mjs failed');
    expect(step('pr-plan.yml', 'Say loudly that nothing was planned').run).toContain('plan-comment.mjs skipped');
  });
});

describe('deploy.yml steps', () => {
  const keep = step('pr-plan.yml', 'Keep the plan for deploy.yml (encrypted; it holds the prior state)');
  const check = step('deploy.yml', "Check main's Terraform is the one that was planned");
  const KEY = 'correct horse battery staple';

  function plannedArtifact(): { stack: string; artifact: string } {
    const stack = mkdtempSync(join(tmpdir(), 'planned-'));
    mkdirSync(join(stack, 'assets', 'fn'), { recursive: true });
    mkdirSync(join(stack, '.terraform'));
    writeFileSync(join(stack, 'cdk.tf.json'), '{"resource":{}}\n');
    writeFileSync(join(stack, 'assets', 'fn', 'a.zip'), 'zip');
    writeFileSync(join(stack, '.terraform', 'junk'), 'providers');
    writeFileSync(join(stack, 'tfplan'), 'the reviewed plan');
    writeFileSync(join(stack, '.terraform.lock.hcl'), 'provider "registry.terraform.io/hashicorp/aws" {}');
    const r = runStep(keep, { PLAN_ARTIFACT_KEY: KEY, STACK_DIR: stack, HEAD_SHA: 'h7' }, stack);
    expect(r.status).toBe(0);
    expect(r.outputs.deployable).toBe('yes');
    expect(readFileSync(join(r.tmp, 'keep', 'plan.tgz.enc')).includes('the reviewed plan')).toBe(false); // encrypted
    return { stack, artifact: join(r.tmp, 'keep') };
  }

  function mainCheckout(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'main-'));
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    return dir;
  }

  function runCheck(artifact: string, stackDir: string, key = KEY) {
    const temp = mkdtempSync(join(tmpdir(), 'runner-'));
    spawnSync('cp', ['-r', artifact, join(temp, 'reviewed')]);
    return spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', check.run as string], {
      cwd: stackDir,
      env: { PATH: process.env.PATH ?? '', RUNNER_TEMP: temp, PLAN_ARTIFACT_KEY: key, STACK_DIR: stackDir },
      encoding: 'utf8',
    });
  }

  it('Given no PLAN_ARTIFACT_KEY, Then the plan is not kept and the comment will say so', () => {
    const r = runStep(keep, { PLAN_ARTIFACT_KEY: '', STACK_DIR: '/nonexistent', HEAD_SHA: 'h' }, tmpdir());
    expect(r.status).toBe(0);
    expect(r.outputs.deployable).toBe('no');
  });

  it('Given main synthesizes the planned Terraform, Then the check passes and the reviewed tfplan is put in place', () => {
    const { artifact } = plannedArtifact();
    const main = mainCheckout({ 'cdk.tf.json': '{"resource":{}}\n', 'assets/fn/a.zip': 'zip' });
    const r = runCheck(artifact, main);
    expect(r.stderr + r.stdout).not.toContain('::error');
    expect(r.status).toBe(0);
    expect(readFileSync(join(main, 'tfplan'), 'utf8')).toBe('the reviewed plan');
    // terraform init on main uses the providers the plan was made with
    expect(readFileSync(join(main, '.terraform.lock.hcl'), 'utf8')).toContain('hashicorp/aws');
  });

  it.each([
    ['a changed Terraform file', { 'cdk.tf.json': '{"resource":{"x":{}}}\n', 'assets/fn/a.zip': 'zip' }],
    ['a changed Lambda zip', { 'cdk.tf.json': '{"resource":{}}\n', 'assets/fn/a.zip': 'zap' }],
    ['an extra file', { 'cdk.tf.json': '{"resource":{}}\n', 'assets/fn/a.zip': 'zip', 'assets/fn/b.zip': 'b' }],
  ])('Given main differs from the plan (%s), Then the deploy stops before any apply', (_label, files) => {
    const { artifact } = plannedArtifact();
    const main = mainCheckout(files);
    const r = runCheck(artifact, main);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error title=plan does not match main::');
    expect(existsSync(join(main, 'tfplan'))).toBe(false);
  });

  it('Given the wrong key, Then the check fails', () => {
    const { artifact } = plannedArtifact();
    const main = mainCheckout({ 'cdk.tf.json': '{"resource":{}}\n', 'assets/fn/a.zip': 'zip' });
    expect(runCheck(artifact, main, 'wrong').status).not.toBe(0);
  });

  it('wiring: applies the reviewed tfplan (no new plan, no cdktf deploy) after finding and checking it', () => {
    const all = steps('deploy.yml');
    const names = all.map((s) => s.name ?? s.uses);
    const apply = step('deploy.yml', 'Apply the reviewed plan (both regions)');
    expect(apply.run).toMatch(/terraform apply -input=false -no-color tfplan/);
    expect(apply['working-directory']).toBe('${{ steps.synth.outputs.dir }}');
    const text = JSON.stringify(all);
    expect(text).not.toMatch(/cdktf deploy|terraform plan|npm test/);
    expect(names.indexOf('Find the reviewed plan')).toBeLessThan(
      names.indexOf("Check main's Terraform is the one that was planned"),
    );
    expect(names.indexOf("Check main's Terraform is the one that was planned")).toBeLessThan(
      names.indexOf('Apply the reviewed plan (both regions)'),
    );
    const tf = all.find((s) => s.uses?.startsWith('hashicorp/setup-terraform'));
    expect(tf?.with?.cli_config_credentials_hostname).toContain('steps.synth.outputs.tfe-hostname');
  });
});
