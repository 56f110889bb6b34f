// What the Code view asks for (a cell's attempts or a test question's answers),
// how it names the answer and whom a cluster's message goes to: no DOM here.

import type {
  AttemptCluster,
  Audience,
  ClusterMember,
  ClustersOut
} from './wire.gen.js';

/** The clusters shown: of a cell, or of a question's answers. */
export type ClusterSubject =
  | { notebook: string; cell: number; question?: undefined }
  | { notebook: string; question: string; cell?: undefined };

/** The subject the form names, or what is missing. */
export function subjectOf(
  notebook: string,
  cellText: string,
  question: string
): ClusterSubject | { problem: string } {
  if (!notebook) {
    return { problem: 'Choose a notebook, then a cell number or a question.' };
  }
  if (question) {
    return { notebook, question };
  }
  const cell = Number.parseInt(cellText, 10);
  if (Number.isNaN(cell) || cell < 0) {
    return { problem: 'Choose a cell number or a question.' };
  }
  return { notebook, cell };
}

export function clusterParams(
  subject: ClusterSubject
): Record<string, string | number> {
  return subject.question !== undefined
    ? { notebook: subject.notebook, question: subject.question }
    : { notebook: subject.notebook, cell: subject.cell };
}

/** The line above the clusters. */
export function clusterSummary(body: ClustersOut): string {
  const count = `${body.attempts} student${body.attempts === 1 ? '' : 's'}`;
  const variants = `${body.clusters.length} different`;
  if (body.question !== null && body.question !== undefined) {
    if (!body.attempts) {
      return `Nobody has run the test of ${body.question} in ${body.notebook} yet.`;
    }
    const cell = body.cellIndex === null ? '' : ` (cell ${body.cellIndex})`;
    return `${count} tested ${body.question} · ${variants} answers${cell}`;
  }
  return body.attempts
    ? `${count} · ${variants} attempts at cell ${body.cellIndex}`
    : `Nobody has run cell ${body.cellIndex} of ${body.notebook} yet.`;
}

/** The cluster header's outcome: ✓ for a success (ok, test passed), ✕ otherwise. */
export function outcomeText(cluster: AttemptCluster): string {
  return `${cluster.passing ? '✓' : '✕'} ${cluster.outcome}`;
}

/** What a member's line says after their name. */
export function memberNote(
  member: ClusterMember,
  body: Pick<ClustersOut, 'cellIndex'>,
  timeOf: (value: string | null) => string
): string {
  if (member.eventTime === null) {
    return ` ${member.outcome} · no answer run before the test`;
  }
  const elsewhere =
    member.cellIndex !== null && member.cellIndex !== body.cellIndex
      ? ` · cell ${member.cellIndex}`
      : '';
  return ` ${member.outcome} · ${timeOf(member.eventTime)}${elsewhere}`;
}

/** The cluster's students as a message audience (those in it when it is sent). */
export function clusterAudience(
  subject: ClusterSubject,
  cluster: AttemptCluster
): { audience: Audience; label: string } {
  const count = `${cluster.size} student${cluster.size === 1 ? '' : 's'}`;
  const base = { kind: 'cluster' as const, notebook: subject.notebook };
  if (subject.question !== undefined) {
    return {
      audience: {
        ...base,
        question: subject.question,
        fingerprint: cluster.fingerprint
      },
      label: `the ${count} of this answer to ${subject.question} (${cluster.outcome})`
    };
  }
  return {
    audience: {
      ...base,
      cellIndex: subject.cell,
      fingerprint: cluster.fingerprint
    },
    label: `the ${count} of this attempt at cell ${subject.cell} (${cluster.outcome})`
  };
}
