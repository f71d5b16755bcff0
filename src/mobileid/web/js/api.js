// The HTTP API under /api/v1: one function per route the app uses. The token travels in the
// Authorization header only (never a cookie); errors become ApiError carrying the
// problem+json body, so screens can show its detail and advice.

const BASE = new URL("api/v1/", document.baseURI);

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

let token = null;
export function setToken(value) {
  token = value;
}

async function request(method, path, { json, form } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let resp;
  try {
    resp = await fetch(new URL(path, BASE), { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, {
      title: "No connection",
      detail: "The server cannot be reached. Check the phone's network and try again.",
    });
  }
  if (resp.ok) {
    return resp.status === 204 ? null : resp.json();
  }
  let problem;
  try {
    problem = await resp.json();
  } catch {
    problem = { title: resp.statusText };
  }
  throw new ApiError(resp.status, problem, resp.headers.get("Retry-After"));
}

// Reference photos need the Authorization header, so an <img src> cannot fetch them: the
// bytes are fetched here and shown through an object URL that the screen revokes.
export async function photo(url) {
  const resp = await fetch(new URL(url, document.baseURI), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
  if (!resp.ok) throw new ApiError(resp.status, { title: "photo not available" });
  return URL.createObjectURL(await resp.blob());
}

export const login = (username, password, totp) =>
  request("POST", "auth/login", { json: { username, password, totp } });
export const logout = () => request("POST", "auth/logout");
export const me = () => request("GET", "me");
export const purposes = () => request("GET", "purposes");

export function quality(blob, modality) {
  const form = new FormData();
  form.append("image", blob, "frame.jpg");
  form.append("modality", modality);
  return request("POST", "capture/quality", { form });
}

// target: on the training range, the practice subject photographed (or empty)
function reasonForm(reason, training, target) {
  const form = new FormData();
  form.append("purpose", training ? "training" : reason.purpose);
  form.append("case", reason.case);
  if (reason.location) form.append("location", reason.location);
  if (training && target) form.append("target", target);
  return form;
}

export function searchFace(blob, reason, training, target) {
  const form = reasonForm(reason, training, target);
  form.append("image", blob, "face.jpg");
  return request("POST", "searches/face", { form });
}

export function searchFingers(blobs, reason, training, target) {
  const form = reasonForm(reason, training, target);
  for (const b of blobs) form.append("images", b, "fingers.jpg");
  form.append("contactless", "true");
  return request("POST", "searches/fingers", { form });
}

export const disposition = (searchId, value, subjectId) =>
  request("POST", `searches/${encodeURIComponent(searchId)}/disposition`, {
    json: { disposition: value, subject_id: subjectId },
  });

export const mySearches = () => request("GET", "searches?mine=true");

export function superQuery(fields, reason, training) {
  const json = {
    ...fields,
    purpose: training ? "training" : reason.purpose,
    case: reason.case,
  };
  if (reason.location) json.location = reason.location;
  return request("POST", "queries", { json });
}
