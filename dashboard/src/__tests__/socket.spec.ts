import { loginUrl, studentPath, withQuery } from '../api';
import { backoffDelay } from '../socket';

describe('backoffDelay', () => {
  const options = { baseDelayMs: 500, maxDelayMs: 15_000 };

  it('doubles per attempt, with jitter between half and all of the ceiling', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(250);
    expect(backoffDelay(0, options, () => 1)).toBe(500);
    expect(backoffDelay(3, options, () => 0)).toBe(2000);
    expect(backoffDelay(3, options, () => 1)).toBe(4000);
  });

  it('never exceeds the maximum', () => {
    expect(backoffDelay(20, options, () => 1)).toBe(15_000);
    expect(backoffDelay(20, options, () => 0)).toBe(7_500);
  });
});

describe('api helpers', () => {
  it('builds the sign-in address that brings the instructor back', () => {
    expect(loginUrl('/dashboard?team=A')).toBe(
      '/login?next=%2Fdashboard%3Fteam%3DA'
    );
  });

  it('puts any student id in the query string, never in the path', () => {
    for (const student of ['a/b', '..', '.', '50% off', 'ünï/cødé', '?x=1#y']) {
      const url = new URL(studentPath(student, 'help/dismiss'), 'http://h');
      expect(url.pathname).toBe('/api/v1/students/help/dismiss');
      expect(url.searchParams.get('student')).toBe(student);
    }
  });

  it('leaves empty parameters out of the query', () => {
    expect(withQuery('/x', { a: 'b c', n: null, e: '', z: 0 })).toBe(
      '/x?a=b+c&z=0'
    );
  });
});
