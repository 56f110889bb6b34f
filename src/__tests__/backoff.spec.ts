import { backoffDelay } from '../backoff';

const options = { initialMs: 1000, maxMs: 60000 };

describe('backoffDelay', () => {
  it('doubles the ceiling with each attempt', () => {
    const low = () => 0;
    expect(backoffDelay(1, options, low)).toBe(500);
    expect(backoffDelay(2, options, low)).toBe(1000);
    expect(backoffDelay(3, options, low)).toBe(2000);
  });

  it('is capped at maxMs', () => {
    expect(backoffDelay(50, options, () => 1)).toBe(60000);
    expect(backoffDelay(50, options, () => 0)).toBe(30000);
  });

  it('spreads retries over the upper half of the ceiling', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(4, options));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(8000);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });
});
