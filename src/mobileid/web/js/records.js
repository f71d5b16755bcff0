// How a record, a source's status and a link read in one line each.

import { el } from "./dom.js";

const SKIP = new Set(["record_id", "record_type", "source", "synthetic", "subject_id", "aliases"]);
const FIRST = {
  person: ["name", "dob", "nationality"],
  vehicle: ["plate", "plate_state", "make", "model", "vin"],
  aircraft: ["tail_number", "make", "model"],
  vessel: ["hull_id", "name", "flag"],
  address: ["line1", "city", "postcode", "country"],
  phone: ["number", "carrier"],
  firearm: ["serial", "make", "model"],
};

function plain(value) {
  if (value === null || value === undefined || value === "") return "";
  if (Array.isArray(value)) return value.map(plain).filter(Boolean).join(", ");
  if (typeof value === "object") return Object.values(value).map(plain).filter(Boolean).join(" ");
  return String(value);
}

export function describeRecord(item) {
  const rec = item.record || item;
  const type = item.record_type || rec.record_type || "record";
  const keys = [...(FIRST[type] || [])];
  for (const k of Object.keys(rec)) if (!keys.includes(k) && !SKIP.has(k)) keys.push(k);
  const facts = keys
    .map((k) => plain(rec[k]))
    .filter(Boolean)
    .slice(0, 4);
  const source = item.source || rec.source;
  const synthetic = item.synthetic ?? rec.synthetic;
  const via = item.hop ? ` · linked via ${item.via}` : "";
  const why = item.reason ? ` · ${item.reason}` : "";
  const li = el("li", { class: "record" });
  li.append(
    el("span", { class: "tag", text: type }),
    ` ${facts.join(" · ") || rec.record_id}`,
    el("span", { class: "fine", text: ` ${rec.record_id} · ${source || "?"}${why}${via}` }),
  );
  if (synthetic) li.append(el("span", { class: "tag synthetic", text: "SYNTHETIC" }));
  return li;
}

const STATUS_WORDS = {
  answered: "answered",
  not_entitled: "not entitled: you may not reach it",
  timed_out: "timed out: its answer is missing",
  failed: "failed: its answer is missing",
  searched: "searched",
};

// Answered sources first: what is missing from an answer is listed after what it holds.
export function bySourceStatus(items) {
  const rank = (s) => (["answered", "searched"].includes(s.status || s.state || "searched") ? 0 : 1);
  return [...(items || [])].sort((a, b) => rank(a) - rank(b));
}

export function describeSource(s) {
  const status = s.status || s.state || "searched";
  const words = STATUS_WORDS[status] || status;
  const extra = [];
  if (status === "answered" && typeof s.hits === "number") extra.push(`${s.hits} hits`);
  if (s.reason) extra.push(s.reason);
  const li = el("li", { class: `reach ${status === "answered" || status === "searched" ? "ok" : "gap"}` });
  li.append(
    el("strong", { text: s.source || s.gallery || s.name }),
    ` ${words}${extra.length ? ` (${extra.join(", ")})` : ""}`,
  );
  return li;
}

// A link between person records in two sources (same person by name and date of birth).
export function describeLink(link) {
  const li = el("li", { class: "record" });
  li.append(
    el("span", { class: "tag", text: "same person?" }),
    ` ${link.a_source} ${link.a_record_id} ↔ ${link.b_source} ${link.b_record_id}`,
    el("span", { class: "fine", text: ` ${link.reason || ""}` }),
  );
  return li;
}
