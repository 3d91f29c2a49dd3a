// berth UI: the API client. Every call carries `Authorization: Bearer <token>`
// (docs/security.md §1); the token lives in sessionStorage, never in a URL sent to the server.
// A 401 signs the user out with the server's message. Errors keep Marathon's 422 `details`
// (docs/compatibility.md §1) so forms can show them at their fields.

const TOKEN_KEY = "berth.token";

let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch (e) {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) {
    /* storage disabled: the token lasts as long as the page */
  }
}

// `/ui/#token=…` signs in directly: take the token from the fragment, keep it, and remove it
// from the address bar (and history) at once.
export function takeTokenFromFragment() {
  const m = /(?:^#|[&#])token=([^&]*)/.exec(location.hash);
  if (!m) return false;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search + "#/apps");
  return true;
}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
    this.details = (body && Array.isArray(body.details) && body.details) || [];
  }
}

function errorMessage(status, body, text) {
  if (body && typeof body === "object") {
    if (body.message) return body.message;
    if (body.description) return body.description; // Flocker's routes
  }
  return text ? `HTTP ${status}: ${text.slice(0, 200)}` : `HTTP ${status}`;
}

async function send(method, path, body, extraHeaders) {
  const headers = { Authorization: `Bearer ${getToken()}`, ...extraHeaders };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    const text = await response.text();
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      /* not JSON */
    }
    const message = errorMessage(401, parsed, text);
    onUnauthorized(message);
    throw new ApiError(401, message, parsed);
  }
  return response;
}

// JSON in, JSON out; throws ApiError for any status >= 400.
export async function call(method, path, body) {
  const response = await send(method, path, body);
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      parsed = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, parsed, text), parsed);
  return parsed;
}

export const get = (path) => call("GET", path);

// A task's log bytes from `offset` (negative: from the end); docs/compatibility.md §2.1.
export async function getLog(taskId, stream, offset, length) {
  const path =
    `/berth/v1/tasks/${encodeURIComponent(taskId)}/logs?stream=${stream}` +
    `&offset=${offset}&length=${length}`;
  const response = await send("GET", path);
  const text = await response.text();
  if (!response.ok) throw new ApiError(response.status, text || `HTTP ${response.status}`, null);
  return {
    text,
    next: Number(response.headers.get("X-Berth-Log-Offset") || offset),
    done: response.headers.get("X-Berth-Task-Done") === "true",
  };
}

// An app id ("/a/b") as a path segment of /v2/apps/{id}: its slashes stay.
export function appPath(id) {
  return id.split("/").filter(Boolean).map(encodeURIComponent).join("/");
}
