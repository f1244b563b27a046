import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { FieldError, ParameterError } from './types';

/** The prefix of every route of the jupyter-mlops server extension. */
export const API_PREFIX = 'jupyter-mlops';

/**
 * An error answered by the server extension (or the network), with the server's
 * `{message, code}` body when there is one, and, for `invalid_parameters`, each problem
 * with the parameter it names; `fields`: each problem with the request field it names,
 * when the error concerns fields.
 */
export class MlopsApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly parameters: readonly ParameterError[] = [],
    readonly fields: readonly FieldError[] = []
  ) {
    super(message);
    this.name = 'MlopsApiError';
  }
}

/**
 * Any failure as an MlopsApiError (code `client_error` when it did not come from the
 * server: a network failure, a bug), so every view shows errors one way.
 */
export function asApiError(reason: unknown): MlopsApiError {
  if (reason instanceof MlopsApiError) {
    return reason;
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return new MlopsApiError(message, 0, 'client_error');
}

function isParameterError(value: unknown): value is ParameterError {
  const item = value as ParameterError | null;
  return (
    typeof item === 'object' &&
    item !== null &&
    typeof item.message === 'string' &&
    (item.parameter === null || typeof item.parameter === 'string')
  );
}

function isFieldError(value: unknown): value is FieldError {
  const item = value as FieldError | null;
  return (
    typeof item === 'object' &&
    item !== null &&
    typeof item.field === 'string' &&
    typeof item.message === 'string'
  );
}

/** Parse an error response body into an MlopsApiError, whatever the body holds. */
export function errorFromResponse(status: number, body: string): MlopsApiError {
  let message = '';
  let code = `http_${status}`;
  let parameters: ParameterError[] = [];
  let fields: FieldError[] = [];
  try {
    const data = JSON.parse(body);
    if (data && typeof data.message === 'string') {
      message = data.message;
    }
    if (data && typeof data.code === 'string') {
      code = data.code;
    }
    if (data && Array.isArray(data.parameters)) {
      parameters = data.parameters.filter(isParameterError);
    }
    if (data && Array.isArray(data.fields)) {
      fields = data.fields.filter(isFieldError);
    }
  } catch {
    // Not JSON: a proxy or a crashed server answered.
  }
  if (!message) {
    message = `The jupyter-mlops server extension answered HTTP ${status}.`;
  }
  return new MlopsApiError(message, status, code, parameters, fields);
}

/** Build the query string of a request, leaving out undefined and null values. */
export function queryString(
  query: Record<string, string | number | boolean | null | undefined>
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * The one door to the server extension: call a route and parse its JSON answer.
 *
 * @param endPoint route below `/jupyter-mlops/`, with its query string
 * @param init request options
 * @param settings server connection settings (for tests)
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_PREFIX, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new MlopsApiError(
      `Cannot reach the Jupyter server: ${(error as Error).message}`,
      0,
      'network_error'
    );
  }
  const body = await response.text();
  if (!response.ok) {
    throw errorFromResponse(response.status, body);
  }
  try {
    return (body ? JSON.parse(body) : {}) as T;
  } catch {
    throw new MlopsApiError(
      'The jupyter-mlops server extension answered with invalid JSON.',
      response.status,
      'invalid_json'
    );
  }
}
