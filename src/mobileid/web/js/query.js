// The super query: records across every source the caller may reach, each source's status
// shown so that a partial answer is never mistaken for a full one.

import * as api from "./api.js";
import { $, clearError, fill, showError } from "./dom.js";
import { bySourceStatus, describeLink, describeRecord, describeSource } from "./records.js";

export function setupQuery({ reason, training, onUnauthorized }) {
  const form = $("query-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const fields = {};
    for (const [k, v] of new FormData(form)) {
      if (String(v).trim()) fields[k] = String(v).trim();
    }
    if (Object.keys(fields).length === 0 || (Object.keys(fields).length === 1 && fields.dob)) {
      showError("Fill in at least one key (a name, plate, phone, ...): a date of birth only narrows a name.");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await api.superQuery(fields, reason(), training());
      show(answer);
    } catch (err) {
      if (err.status === 401) onUnauthorized(err);
      else showError(err);
    } finally {
      button.disabled = false;
    }
  });
}

function show(answer) {
  fill($("query-sources"), bySourceStatus(answer.sources), describeSource);
  fill($("query-records"), answer.records || answer.hits, describeRecord);
  fill($("query-links"), answer.links, describeLink);
  const partial = answer.complete === false ? " Not every source answered: this answer is partial." : "";
  $("query-notice").textContent = `${answer.notice || ""}${partial}`;
  $("query-out").hidden = false;
}

export function resetQuery() {
  $("query-form").reset();
  $("query-out").hidden = true;
}
