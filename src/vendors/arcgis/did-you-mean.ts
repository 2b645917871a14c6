import type { DeploymentSummary } from './schemas.js';

/** Deployments whose id (or name) is a few keystrokes away from what was typed, closest first. */
export function similarDeployments(
  typed: string,
  deployments: DeploymentSummary[],
  max = 3,
): DeploymentSummary[] {
  const limit = Math.max(2, Math.floor(typed.length / 4));
  return deployments
    .map((deployment) => ({
      deployment,
      distance: Math.min(
        editDistance(typed, deployment.deploymentId),
        deployment.name ? editDistance(typed, deployment.name.toLowerCase()) : Number.POSITIVE_INFINITY,
      ),
    }))
    .filter((candidate) => candidate.distance <= limit)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((candidate) => candidate.deployment);
}

/** Levenshtein distance, two rows at a time (ids are ~21 characters). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
