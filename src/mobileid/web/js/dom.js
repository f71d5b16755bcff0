// Small DOM helpers: elements are built with textContent only, never innerHTML, so nothing
// the server or a record says can become markup.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

export function fill(list, items, render) {
  list.replaceChildren();
  if (!items || items.length === 0) {
    list.append(el("li", { class: "none", text: "none" }));
    return;
  }
  for (const item of items) list.append(render(item));
}

// A problem+json refusal, said as what to do next.
const sentence = (text) => (text && !/[.!?:]$/.test(text) ? `${text}.` : text);

export function nextStep(err, what401 = "Log in again.") {
  const p = err.problem || {};
  const parts = [sentence(err.message)];
  if (p.advice) parts.push(sentence(`Try: ${[].concat(p.advice).join("; ")}`));
  const later = `try again${err.retryAfter ? ` in ${err.retryAfter} s` : " shortly"}`;
  const what = {
    0: "",
    401: what401,
    403: "Your role or entitlements do not allow this; ask your supervisor.",
    413: "The photo is too large: take it again or choose a smaller one.",
    429: "Too many attempts: wait a few minutes, then try again.",
    // a database or index server that did not answer is not a busy server: waiting may not
    // help, so say who can mend it
    503: p.code === "backend_unavailable"
      ? `A server behind mobileid is not answering: ${later}; if it keeps failing, tell your administrator.`
      : `The server is busy: ${later}.`,
  }[err.status];
  if (what) parts.push(what);
  else if (err.status >= 500) parts.push("Try again; if it keeps failing, tell your administrator.");
  if (p.field && (err.status === 400 || err.status === 422)) parts.push(`(field: ${p.field})`);
  return parts.filter(Boolean).join(" ");
}

export function showError(err, what401) {
  const box = $("error");
  box.textContent = typeof err === "string" ? err : nextStep(err, what401);
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

export function clearError() {
  const box = $("error");
  box.hidden = true;
  box.textContent = "";
}
