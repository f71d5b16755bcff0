// The phone app: log in, state the reason for this shift, capture, review candidates, query
// records, practise on the training range. One page; screens are sections shown one at a time.

import * as api from "./api.js";
import { CaptureScreen, FingerCaptureScreen } from "./capture.js";
import { $, clearError, el, showError } from "./dom.js";
import { resetQuery, setupQuery } from "./query.js";
import { releasePhotos, showResults } from "./results.js";
import { loadShift } from "./shift.js";
import { clear, save, state } from "./state.js";

// The same rule as the server's (service/purpose.py), checked here only to answer sooner.
const CASE_NUMBER = /^[A-Za-z0-9][A-Za-z0-9/_.:#-]{2,63}$/;
const SCREENS = ["login", "reason", "face", "fingers", "results", "query", "shift"];

let purposeList = [];
let lastCapture = "face";

const face = new CaptureScreen("face", "face", { onSearch: searchFace, onUnauthorized: sessionEnded });
const fingers = new FingerCaptureScreen({ onSearch: searchFingers, onUnauthorized: sessionEnded });

function show(name) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  if (name !== "face") face.close();
  if (name !== "fingers") fingers.close();
  const signedIn = name !== "login";
  const working = signedIn && name !== "reason";
  $("tabs").hidden = !working;
  $("logout").hidden = !signedIn;
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.setAttribute("aria-current", tab.dataset.screen === name ? "page" : "false");
  }
  if (name === "face" || name === "fingers") lastCapture = name;
  if (name === "face") face.open();
  if (name === "fingers") fingers.open();
  if (name === "shift") loadShift(sessionEnded);
  const heading = $(`screen-${name}`).querySelector("h2");
  if (heading) heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function training() {
  return Boolean(state.training);
}

function reason() {
  return state.reason;
}

function renderMode() {
  const on = training();
  document.body.classList.toggle("training", on);
  $("training-banner").hidden = !on;
  document.querySelector("meta[name=theme-color]").content = on ? "#8a3b00" : "#12355b";
  $("training-toggle").textContent = on ? "Leave training range" : "Enter training range";
  const r = state.reason;
  const text = !r
    ? ""
    : on
      ? `TRAINING · case ${r.case}`
      : `${r.purpose} · ${r.authority} · case ${r.case}${r.location ? ` · ${r.location}` : ""}`;
  for (const line of document.querySelectorAll("[data-reason]")) line.textContent = text;
  for (const part of document.querySelectorAll("[data-training]")) part.hidden = !on;
  $("who").textContent = state.operator ? `${state.operator} · ${state.role}` : "";
}

function sessionEnded() {
  forget();
  show("login");
  showError("Your session has ended (30 minutes idle, or logged out). Log in again.");
}

function forget() {
  api.setToken(null);
  clear();
  face.reset();
  fingers.reset();
  releasePhotos();
  resetQuery();
  $("login-form").reset();
  $("reason-form").reset();
  renderMode();
}

async function onLogin(event) {
  event.preventDefault();
  clearError();
  const f = event.target.elements;
  if (!f.username.value || !f.password.value || !f.totp.value) {
    showError("Fill in Username, Password and the One-time code from your authenticator app.");
    return;
  }
  try {
    const answer = await api.login(f.username.value.trim(), f.password.value, f.totp.value.trim());
    api.setToken(answer.token);
    save({ token: answer.token, operator: answer.operator, role: answer.role, expiresAt: answer.expires_at });
    f.password.value = "";
    f.totp.value = "";
    await toReason();
  } catch (err) {
    f.totp.value = "";
    showError(
      err,
      "Check the username, the password and the current code, then try again; " +
        "5 failures lock the account for 10 minutes.",
    );
  }
}

async function toReason() {
  renderMode();
  show("reason");
  const select = $("purpose");
  try {
    const answer = await api.purposes();
    purposeList = answer.purposes || [];
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    showError(err);
    return;
  }
  const keep = state.reason ? state.reason.purpose : select.value;
  select.replaceChildren(el("option", { value: "", text: "Choose a purpose…" }));
  for (const p of purposeList) {
    select.append(el("option", { value: p.code, text: p.live === false ? `${p.code} (training)` : p.code }));
  }
  if (purposeList.some((p) => p.code === keep)) select.value = keep;
  if (state.reason) {
    $("case").value = state.reason.case;
    $("location").value = state.reason.location || "";
  }
  showAuthority();
}

function showAuthority() {
  const p = purposeList.find((x) => x.code === $("purpose").value);
  $("authority").textContent = p
    ? `Legal authority: ${p.legal_authority}${p.description ? ` — ${p.description}` : ""}`
    : "Choose the purpose these searches serve; its legal authority is shown here.";
}

function onReason(event) {
  event.preventDefault();
  clearError();
  const p = purposeList.find((x) => x.code === $("purpose").value);
  const caseNumber = $("case").value.trim();
  const location = $("location").value.trim();
  if (!p) return showError("Choose a Purpose from the list.");
  if (!CASE_NUMBER.test(caseNumber)) {
    return showError(
      "Case number: 3 to 64 letters, digits or / _ . : # - starting with a letter or digit (for example 2026-0412).",
    );
  }
  const trainingOnly = p.live === false || state.role === "trainee";
  save({
    reason: { purpose: p.code, authority: p.legal_authority, case: caseNumber, location },
    training: trainingOnly || training(),
  });
  renderMode();
  show("face");
}

function toggleTraining() {
  const r = state.reason;
  const onlyTraining = state.role === "trainee" || purposeList.some((p) => p.code === r.purpose && p.live === false);
  if (training() && onlyTraining) {
    // A training-only reason has no live side to go back to: choose a live reason first.
    save({ training: false, reason: null });
    renderMode();
    toReason();
    return;
  }
  save({ training: !training() });
  face.reset();
  fingers.reset();
  releasePhotos();
  renderMode();
  show("face");
}

const practiceTarget = (prefix) => $(`${prefix}-target`).value.trim();

async function searchFace(blob, probeUrl) {
  const result = await api.searchFace(blob, reason(), training(), practiceTarget("face"));
  showResults(result, probeUrl, sessionEnded);
  show("results");
}

async function searchFingers(blob, probeUrl) {
  const result = await api.searchFingers([blob], reason(), training(), practiceTarget("finger"));
  showResults(result, probeUrl, sessionEnded);
  show("results");
}

async function onLogout() {
  try {
    await api.logout();
  } catch {
    // The session may already be gone; forgetting it here is what matters.
  }
  forget();
  show("login");
}

async function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("reason-form").addEventListener("submit", onReason);
  $("purpose").addEventListener("change", showAuthority);
  $("logout").addEventListener("click", onLogout);
  $("training-toggle").addEventListener("click", toggleTraining);
  $("reason-change").addEventListener("click", toReason);
  $("results-new").addEventListener("click", () => {
    face.reset();
    fingers.reset();
    releasePhotos();
    show(lastCapture);
  });
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.addEventListener("click", () => {
      clearError();
      show(tab.dataset.screen);
    });
  }
  for (const h of document.querySelectorAll("h2")) h.tabIndex = -1;
  setupQuery({ reason, training, onUnauthorized: sessionEnded });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((err) => console.warn("offline shell unavailable:", err));
  }
  renderMode();
  if (!state.token) return show("login");
  api.setToken(state.token);
  try {
    await api.me();
  } catch (err) {
    return err.status === 401 ? sessionEnded() : show("login");
  }
  if (!state.reason) return toReason();
  await toReason();
  show("face");
}

start();
