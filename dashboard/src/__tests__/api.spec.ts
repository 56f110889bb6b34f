import { getJson } from '../api';

// When a session ends, every call in flight answers 401: the page goes to the
// sign-in page once (a second navigation would abort the first).
describe('a session that ends', () => {
  const assign = jest.fn();

  beforeEach(() => {
    (globalThis as any).window = {
      location: { pathname: '/dashboard', search: '', hash: '#class', assign }
    };
    (globalThis as any).fetch = jest.fn(
      async () => new Response('{}', { status: 401 })
    );
  });

  afterEach(() => {
    delete (globalThis as any).window;
  });

  it('sends the page to the sign-in page once, back to this view', async () => {
    const calls = [getJson('/api/v1/live'), getJson('/api/v1/help/stats')];
    for (const call of calls) {
      await expect(call).rejects.toMatchObject({ status: 401 });
    }
    expect(assign).toHaveBeenCalledTimes(1);
    expect(assign).toHaveBeenCalledWith('/login?next=%2Fdashboard%23class');
  });
});
