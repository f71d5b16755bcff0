// This shift's searches (the operator's own, newest first) and the training range switch.

import * as api from "./api.js";
import { $, el, fill, nextStep } from "./dom.js";

function describeSearch(s) {
  const when = s.at || s.created_at || s.timestamp || "";
  const time = when ? new Date(when).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  const bands = s.band_counts
    ? Object.entries(s.band_counts)
        .map(([b, n]) => `${n} ${b}`)
        .join(", ")
    : "";
  const li = el("li", { class: `record${s.training ? " training-item" : ""}` });
  li.append(
    el("span", { class: "tag", text: s.modality || "search" }),
    ` ${time} · ${s.purpose || ""} · case ${s.case_number || s.case || "?"}`,
    el("span", {
      class: "fine",
      text: ` ${s.search_id}${bands ? ` · ${bands}` : ""}${s.disposition ? ` · ${s.disposition}` : ""}`,
    }),
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
