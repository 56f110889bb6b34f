/**
 * Recognising test cells and reading their outcome per question, from what a
 * run already gives (cell metadata and outputs; nothing else is read):
 *
 * - nbgrader autograder tests: metadata `nbgrader.grade: true` and not a
 *   solution cell; the question is its `grade_id`, it passes when the cell
 *   runs without error, and earns its `points` then;
 * - otter-grader: `grader.check("q1")` and `grader.check_all()` display
 *   "q1 results: All test cases passed!" (or "q1 results:" and the failures),
 *   one question per block;
 * - a cell tagged with the configured tag (default `test`) for plain asserts:
 *   passes when it runs without error; the question is the name after
 *   `test:` in a tag like `test:q3`, else "cell N" (its position).
 */

import type { TestOutcome } from './wire.gen';
import { IOutputLike, stripAnsi } from './outputs';

export const DEFAULT_TEST_TAG = 'test';
const MAX_QUESTION = 256;

interface INbgraderMetadata {
  grade?: unknown;
  solution?: unknown;
  grade_id?: unknown;
  points?: unknown;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function questionName(value: string): string {
  return value.trim().slice(0, MAX_QUESTION);
}

/** An nbgrader autograder test cell's outcome, or null for any other cell. */
export function nbgraderOutcome(
  metadata: unknown,
  succeeded: boolean
): TestOutcome | null {
  const nbgrader = asRecord(
    asRecord(metadata)?.nbgrader
  ) as INbgraderMetadata | null;
  if (!nbgrader || nbgrader.grade !== true || nbgrader.solution === true) {
    return null;
  }
  const id =
    typeof nbgrader.grade_id === 'string'
      ? questionName(nbgrader.grade_id)
      : '';
  if (!id) {
    return null;
  }
  const points =
    typeof nbgrader.points === 'number' &&
    Number.isFinite(nbgrader.points) &&
    nbgrader.points >= 0
      ? nbgrader.points
      : null;
  return {
    question: id,
    passed: succeeded,
    kind: 'nbgrader',
    points: points === null ? null : succeeded ? points : 0,
    maxPoints: points
  };
}

function plainText(output: IOutputLike): string {
  if (output.output_type === 'stream') {
    const text = output.text;
    return Array.isArray(text) ? text.join('') : (text ?? '');
  }
  if (
    output.output_type === 'execute_result' ||
    output.output_type === 'display_data'
  ) {
    const plain = output.data?.['text/plain'];
    return Array.isArray(plain) ? plain.join('') : String(plain ?? '');
  }
  return '';
}

// "q1 results: All test cases passed!" or "q1 results:" then the failures; an
// older otter wrote "q1 passed!" for a pass.
const OTTER_RESULT = /^(\S+) results:( All test cases passed!)?$/;
const OTTER_PASSED = /^(\S+) passed!/;

/** The questions otter's check / check_all displayed in the outputs, in order. */
export function otterOutcomes(outputs: readonly IOutputLike[]): TestOutcome[] {
  const found = new Map<string, TestOutcome>();
  for (const output of outputs) {
    for (const raw of stripAnsi(plainText(output)).split('\n')) {
      const line = raw.replace(/\s+$/, '');
      const result = OTTER_RESULT.exec(line);
      const passedOnly = result ? null : OTTER_PASSED.exec(line);
      const name = result?.[1] ?? passedOnly?.[1];
      if (!name) {
        continue;
      }
      const passed = passedOnly !== null || result?.[2] !== undefined;
      const question = questionName(name);
      found.set(question, { question, passed, kind: 'otter' });
    }
  }
  return Array.from(found.values());
}

/** A tagged plain test cell's outcome, or null when the cell lacks the tag. */
export function taggedOutcome(
  metadata: unknown,
  tag: string,
  cellIndex: number,
  succeeded: boolean
): TestOutcome | null {
  const tags = asRecord(metadata)?.tags;
  if (!tag || !Array.isArray(tags)) {
    return null;
  }
  let question: string | null = null;
  for (const value of tags) {
    if (value === tag) {
      question = question ?? `cell ${cellIndex + 1}`;
    } else if (typeof value === 'string' && value.startsWith(`${tag}:`)) {
      const name = questionName(value.slice(tag.length + 1));
      question = name || question;
    }
  }
  return question === null
    ? null
    : { question, passed: succeeded, kind: 'tag' };
}

/** Every outcome a run of this cell reports (none for an ordinary cell). */
export function testOutcomes(
  metadata: unknown,
  outputs: readonly IOutputLike[],
  succeeded: boolean,
  cellIndex: number,
  tag: string = DEFAULT_TEST_TAG
): TestOutcome[] {
  const nbgrader = nbgraderOutcome(metadata, succeeded);
  if (nbgrader) {
    return [nbgrader];
  }
  const otter = otterOutcomes(outputs);
  if (otter.length > 0) {
    return otter;
  }
  const tagged = taggedOutcome(metadata, tag, cellIndex, succeeded);
  return tagged ? [tagged] : [];
}
