#!/usr/bin/env node
// deploy.yml: finds the plan that was reviewed for the commit being deployed, or refuses.
//
//   node scripts/github/reviewed-plan.mjs <commit-sha>
//
// The commit must come from a merged pull request whose last pr-plan.yml run (for the pull
// request's head commit) succeeded and kept its plan artifact (`iot-dr-plan`). Prints, and
// writes to $GITHUB_OUTPUT, run-id, pr and head-sha. Exit 0 found, 1 refused (the message says
// why), 2 usage. Environment as scripts/github/api.mjs; PLAN_WORKFLOW (default pr-plan.yml),
// PLAN_ARTIFACT (default iot-dr-plan).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { github, setOutput } from './api.mjs';

export async function findReviewedPlan(sha, env = process.env) {
  const gh = github(env);
  const workflow = env.PLAN_WORKFLOW || 'pr-plan.yml';
  const artifactName = env.PLAN_ARTIFACT || 'iot-dr-plan';
  const pulls = (await gh.request('GET', `${gh.repoPath}/commits/${sha}/pulls`)).json ?? [];
  const pr = pulls.find((p) => p.merged_at && p.merge_commit_sha === sha) ?? pulls.find((p) => p.merged_at);
  if (!pr) {
    throw new Error(`commit ${sha} was not merged through a pull request: no plan of it was reviewed`);
  }
  const head = pr.head.sha;
  const runs = await gh.paginate(
    `${gh.repoPath}/actions/workflows/${workflow}/runs?event=pull_request&head_sha=${head}`,
    (j) => j.workflow_runs ?? [],
  );
  const latest = runs.sort(
    (a, b) => (b.run_number ?? 0) - (a.run_number ?? 0) || (b.run_attempt ?? 0) - (a.run_attempt ?? 0),
  )[0];
  if (!latest)
    throw new Error(`pull request #${pr.number} (head ${head}) has no ${workflow} run: nothing was reviewed`);
  if (latest.conclusion !== 'success') {
    throw new Error(
      `the last ${workflow} run of pull request #${pr.number} (head ${head}) is ${latest.conclusion ?? latest.status}, not success: ${latest.html_url ?? ''}`.trim(),
    );
  }
  const artifacts = await gh.paginate(`${gh.repoPath}/actions/runs/${latest.id}/artifacts`, (j) => j.artifacts ?? []);
  const artifact = artifacts.find((a) => a.name === artifactName && !a.expired);
  if (!artifact) {
    throw new Error(
      `run ${latest.id} of pull request #${pr.number} kept no ${artifactName} artifact (plan skipped, not deployable, or expired): re-run its plan`,
    );
  }
  return { runId: latest.id, pr: pr.number, headSha: head };
}

if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1])) {
  const sha = process.argv[2];
  if (!sha) {
    console.error('usage: reviewed-plan.mjs <commit-sha>');
    process.exit(2);
  }
  findReviewedPlan(sha).then(
    (found) => {
      console.log(`reviewed plan: pull request #${found.pr}, head ${found.headSha}, run ${found.runId}`);
      setOutput('run-id', found.runId);
      setOutput('pr', found.pr);
      setOutput('head-sha', found.headSha);
    },
    (err) => {
      console.error(`::error title=no reviewed plan::${err.message}`);
      process.exit(1);
    },
  );
}
