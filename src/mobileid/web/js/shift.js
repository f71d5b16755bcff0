// This shift's searches (the operator's own, newest first) and the training range switch.

import * as api from "./api.js";
import { $, el, fill, nextStep } from "./dom.js";

// One line per search: when, what, why, and how it ended (best band, or the refusal).
function describeSearch(s) {
  const when = s.time || s.at || "";
  const time = when ? new Date(when).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  const ended = s.error ? `refused: ${s.error}` : s.best_band ? `best: ${s.best_band}` : s.outcome || "";
  const li = el("li", { class: `record${s.training ? " training-item" : ""}` });
  li.append(
    el("span", { class: "tag", text: s.modality || "search" }),
    ` ${time} · ${s.purpose || ""} · case ${s.case_number || "?"}${ended ? ` · ${ended}` : ""}`,
    el("span", { class: "fine", text: ` ${s.search_id || ""}` }),
  );
  if (s.training) li.append(el("span", { class: "tag synthetic", text: "TRAINING" }));
  return li;
}

export async function loadShift(onUnauthorized) {
  const list = $("shift-searches");
  list.replaceChildren(el("li", { class: "none", text: "loading…" }));
  try {
    const answer = await api.mySearches();
    fill(list, answer.searches || answer.items || [], describeSearch);
  } catch (err) {
    if (err.status === 401) onUnauthorized(err);
    list.replaceChildren(el("li", { class: "error", text: nextStep(err) }));
  }
}
