// A small GitHub REST client for the workflow scripts (Node's fetch; no dependency). Reads the
// Actions environment: GITHUB_API_URL (default https://api.github.com), GITHUB_REPOSITORY,
// GITHUB_TOKEN. Tests point GITHUB_API_URL at a fake server on loopback.
import { appendFileSync } from 'node:fs';

export class GitHubError extends Error {
  constructor(method, path, status, body) {
    super(`GitHub API ${method} ${path}: HTTP ${status}${body?.message ? ` (${body.message})` : ''}`);
    this.name = 'GitHubError';
    this.status = status;
  }
}

export function github(env = process.env) {
  const base = (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/$/, '');
  const token = env.GITHUB_TOKEN;
  if (!token) throw new Error('GITHUB_TOKEN is not set (pass the job token: env GITHUB_TOKEN: ${{ github.token }})');
  const [owner, repo] = (env.GITHUB_REPOSITORY || '').split('/');
  if (!owner || !repo) throw new Error('GITHUB_REPOSITORY must be owner/name');

  async function request(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${token}`,
        'x-github-api-version': '2022-11-28',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new GitHubError(method, path, res.status, json);
    return { json, link: res.headers.get('link') ?? '' };
  }

  /** Every item of a paginated list (follows rel="next", at most 50 pages). */
  async function paginate(path, pick = (j) => j) {
    const items = [];
    let next = `${path}${path.includes('?') ? '&' : '?'}per_page=100`;
    for (let page = 0; next && page < 50; page++) {
      const { json, link } = await request('GET', next);
      items.push(...pick(json));
      const m = /<([^>]+)>;\s*rel="next"/.exec(link);
      next = m ? m[1].replace(base, '') : undefined;
    }
    return items;
  }

  return { owner, repo, request, paginate, repoPath: `/repos/${owner}/${repo}` };
}

/** Appends a line (key=value) to $GITHUB_OUTPUT when it is set. */
export function setOutput(name, value, env = process.env) {
  if (env.GITHUB_OUTPUT) appendFileSync(env.GITHUB_OUTPUT, `${name}=${value}\n`);
}
