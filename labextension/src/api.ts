/**
 * The single helper through which the frontend talks to the workbench server extension.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { labLanguage } from './i18n';

/** The request with JupyterLab's language as `Accept-Language` (when it is not English). */
function withLanguage(init: RequestInit): RequestInit {
  const language = labLanguage();
  if (!language) {
    return init;
  }
  const headers = new Headers(init.headers);
  headers.set('Accept-Language', language);
  return { ...init, headers };
}

/**
 * Call `workbench/api/<endPoint>` under the server's base URL and return the parsed JSON.
 *
 * Throws `ServerConnection.ResponseError` whose message is the server's `message` field,
 * so callers can show it as is.
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'workbench', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, withLanguage(init), settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON: keep the text (e.g. a proxy error page).
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      `${response.status} ${response.statusText}`;
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

/**
 * Call `workbench/api/<endPoint>` and return the status and body text whatever the status:
 * for APIs whose error bodies are not `{"message"}` (TF Serving's `{"error"}`, proxied).
 */
export async function requestRaw(
  endPoint: string,
  init: RequestInit = {}
): Promise<{ status: number; text: string }> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'workbench', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, withLanguage(init), settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  return { status: response.status, text: await response.text() };
}
