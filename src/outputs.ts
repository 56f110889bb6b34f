/**
 * Short summaries of what a cell produced: the result text an instructor
 * glances at, and the error, with terminal colour codes removed.
 */

import { LIMITS, truncateHead, truncateTail } from './events';

/** The parts of an nbformat output this module reads. */
export interface IOutputLike {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface IErrorSummary {
  errorName: string;
  errorMessage: string;
  traceback: string;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

function joinText(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map(String).join('');
  }
  return typeof value === 'string' ? value : '';
}

/**
 * Plain text of the outputs, in order: streams, results and displays (their
 * text/plain form; images and HTML are named, not copied), then the error line.
 */
export function summarizeOutputs(
  outputs: readonly IOutputLike[],
  max = LIMITS.result
): string {
  const parts: string[] = [];
  for (const output of outputs) {
    switch (output.output_type) {
      case 'stream':
        parts.push(joinText(output.text));
        break;
      case 'execute_result':
      case 'display_data': {
        const data = output.data ?? {};
        const plain = joinText(data['text/plain']);
        if (plain) {
          parts.push(plain + '\n');
        } else {
          const kinds = Object.keys(data).join(', ');
          parts.push(`[${kinds || 'empty'} output]\n`);
        }
        break;
      }
      case 'error':
        parts.push(`${output.ename}: ${output.evalue}\n`);
        break;
    }
  }
  return truncateHead(stripAnsi(parts.join('')).trimEnd(), max);
}

/** The error of the outputs, if any: name, message and a trimmed traceback. */
export function errorFromOutputs(
  outputs: readonly IOutputLike[]
): IErrorSummary | undefined {
  const error = outputs.find(o => o.output_type === 'error');
  if (!error) {
    return undefined;
  }
  return summarizeError(
    error.ename ?? '',
    error.evalue ?? '',
    error.traceback ?? []
  );
}

export function summarizeError(
  name: string,
  message: string,
  traceback: readonly string[]
): IErrorSummary {
  return {
    errorName: truncateHead(name, 200),
    errorMessage: truncateHead(stripAnsi(message), LIMITS.errorMessage),
    traceback: truncateTail(
      stripAnsi(traceback.join('\n')).trim(),
      LIMITS.traceback
    )
  };
}
