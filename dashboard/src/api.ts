// Same-origin calls to the server's API. A 401 (signed out) sends the browser
// to the sign-in page, which brings it back here afterwards.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** Where to sign in, coming back to `path` (path + query) afterwards. */
export function loginUrl(path: string): string {
  return `/login?next=${encodeURIComponent(path)}`;
}

let leaving = false;

/** To the sign-in page, back to this very view (#progress too) afterwards. */
export function goToLogin(): void {
  // Once: the calls in flight when a session ends all answer 401, and each new
  // navigation would abort the one before it.
  if (leaving) {
    return;
  }
  leaving = true;
  const here = window.location;
  window.location.assign(loginUrl(here.pathname + here.search + here.hash));
}

export type Params = Record<string, string | number | null | undefined>;

/** `path` with the non-empty `params` as its query string. */
export function withQuery(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') {
      query.set(name, String(value));
    }
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function call(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, { credentials: 'same-origin', ...init });
  if (response.status === 401) {
    goToLogin();
    throw new ApiError(401, 'signed out');
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = typeof body.detail === 'string' ? body.detail : detail;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, `${response.status} ${detail}`);
  }
  return response;
}

export async function getJson<T>(path: string, params?: Params): Promise<T> {
  const response = await call(withQuery(path, params), {
    headers: { Accept: 'application/json' }
  });
  return (await response.json()) as T;
}

export async function postJson<T>(
  path: string,
  body: unknown = {}
): Promise<T> {
  const response = await call(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body)
  });
  return (await response.json()) as T;
}

/** Fetch a file (with the session's credentials) and hand it to the browser. */
export async function download(path: string, params?: Params): Promise<void> {
  const response = await call(withQuery(path, params), {});
  const disposition = response.headers.get('Content-Disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'export.csv';
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * The URL of `action` on one student. The id goes in the query string: it is
 * whatever a student's JupyterLab sent, and in a path "/", "." or ".." would
 * be taken as path segments (and normalized away by the browser).
 */
export function studentPath(student: string, action: string): string {
  return withQuery(`/api/v1/students/${action}`, { student });
}
