import { CliError, ExitCode } from './exit-codes.js';

/** The fields of an RFC 9457 problem the CLI shows (the gateway's problem+json). */
export interface Problem {
  status: number;
  code?: string;
  title?: string;
  detail?: string;
  request_id?: string;
}

/** The server answered with an error: one line with its code, exit code 5. */
export class ApiError extends CliError {
  constructor(readonly problem: Problem) {
    super(ExitCode.API_ERROR, describeProblem(problem));
    this.name = 'ApiError';
  }

  get status(): number {
    return this.problem.status;
  }
}

export function describeProblem(problem: Problem): string {
  const detail = problem.detail ?? problem.title ?? `HTTP ${problem.status}`;
  const request = problem.request_id === undefined ? '' : `, request ${problem.request_id}`;
  return `${detail} (${problem.code ?? 'error'}, HTTP ${problem.status}${request})`;
}

/** Reads a failed response's problem; a body that is not one still yields a status and a line. */
export async function readProblem(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null) return { ...(body as Partial<Problem>), status: response.status };
  } catch {
    // not JSON
  }
  return { status: response.status, detail: text.trim().slice(0, 200) || response.statusText };
}

export interface Connection {
  url: string;
  key: string;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

/** The public HTTP API over Node's fetch: JSON in and out, problem+json → ApiError, no connection → exit 6. */
export class ApiClient {
  constructor(readonly connection: Connection) {}

  url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(path, this.connection.url.endsWith('/') ? this.connection.url : `${this.connection.url}/`);
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    return url.toString();
  }

  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.connection.key}` };
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, body: unknown = {}, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, { body, headers });
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders(), ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const target = this.url(path.replace(/^\//, ''), options.query);
    let response: Response;
    try {
      response = await fetch(target, { method, headers, body });
    } catch (error) {
      throw unreachable(this.connection.url, error);
    }
    if (!response.ok) throw new ApiError(await readProblem(response));
    const text = await response.text();
    return (text.length > 0 ? JSON.parse(text) : undefined) as T;
  }
}

export function unreachable(url: string, error: unknown): CliError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
  return new CliError(ExitCode.UNREACHABLE, `cannot reach ${url}: ${cause}`);
}
