// The result screen: the probe beside each candidate's reference photo, what the score and
// band mean at this gallery size, the records the caller may see, what was reached, and the
// disposition buttons. A candidate is a lead for human review: the screen says so first.

import * as api from "./api.js";
import { $, el, fill, nextStep } from "./dom.js";
import { describeRecord, describeSource } from "./records.js";

const DISPOSITIONS = [
  ["confirmed", "Confirmed"],
  ["not_a_match", "Not a match"],
  ["inconclusive", "Inconclusive"],
];

let photoUrls = [];

export function releasePhotos() {
  for (const u of photoUrls) URL.revokeObjectURL(u);
  photoUrls = [];
}

function rate(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "?";
  if (x === 0) return "0";
  if (x >= 0.01) return x.toFixed(2);
  const exp = Math.floor(Math.log10(x));
  const mant = x / 10 ** exp;
  return `${mant >= 9.95 ? "1" : mant.toFixed(1).replace(/\.0$/, "")}e${exp}`;
}

function expected(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "?";
  return x < 0.01 ? rate(x) : x.toPrecision(2);
}

export function bandMeaning(band, result) {
  const size = Object.values(result.gallery_sizes || {}).reduce((a, b) => a + b, 0);
  const bounds = result.fmr_bounds || {};
  const exp = result.expected_false_candidates || {};
  if (band === "strong" || band === "possible") {
    return (
      `${band}: estimated false-match rate at most ${rate(bounds[band])} per comparison; ` +
      `searching ${size} enrolled, about ${expected(exp[band])} false candidates this strong ` +
      "are expected per search of someone not enrolled."
    );
  }
  return (
    `none: weaker than both bands; at ${size} enrolled a stranger scores like this often. ` +
    "Do not act on it."
  );
}

function referencePhoto(candidate) {
  const figure = el("figure", { class: "ref" });
  if (!candidate.photo_url) {
    figure.append(el("div", { class: "nophoto", text: "no reference photo" }));
  } else {
    const img = el("img", { alt: `Reference photo of ${candidate.name}` });
    figure.append(img);
    api
      .photo(candidate.photo_url)
      .then((url) => {
        photoUrls.push(url);
        img.src = url;
      })
      .catch((err) => {
        img.replaceWith(el("div", { class: "nophoto", text: `reference photo not shown: ${nextStep(err)}` }));
      });
  }
  figure.append(el("figcaption", { text: "Reference" }));
  return figure;
}

function dispositionButtons(result, candidate, onUnauthorized) {
  const status = el("p", { class: "disposition-status", role: "status" });
  const group = el("div", { class: "row disposition", role: "group", "aria-label": `What you concluded about ${candidate.name}` });
  for (const [value, label] of DISPOSITIONS) {
    const button = el("button", { type: "button", "data-value": value, text: label });
    button.addEventListener("click", async () => {
      for (const b of group.querySelectorAll("button")) b.disabled = true;
      status.textContent = "Recording…";
      try {
        await api.disposition(result.search_id, value, candidate.subject_id);
        status.textContent = `Recorded: ${label} (${candidate.name}).`;
        button.setAttribute("aria-pressed", "true");
      } catch (err) {
        if (err.status === 401) onUnauthorized(err);
        status.textContent = nextStep(err);
        for (const b of group.querySelectorAll("button")) b.disabled = false;
      }
    });
    group.append(button);
  }
  return [group, status];
}

// A strong candidate whose own face reaches the strong band against other enrolled subjects
// (one person under two names, or a look-alike): the officer rules them out before acting.
// (a list: none or one paragraph, spread into the card)
export function lookalikeNote(c) {
  const alike = c.lookalikes || [];
  if (alike.length === 0) return [];
  const who = alike.map((x) => `${x.name} (${x.subject_id}, score ${x.score.toFixed(3)})`).join("; ");
  return [el(
    "p",
    { class: "lookalikes", role: "note" },
    el("strong", { text: "Resembles another enrolled subject as strongly: " }),
    `${who}. Rule them out before acting on this candidate: they may be one person enrolled twice, or two people alike.`,
  )];
}

function candidateCard(result, c, i, probeUrl, onUnauthorized) {
  const band = c.band || "none";
  // A candidate in no band is shown smaller: it is there for completeness, not as a lead.
  const size = band === "none" ? " compact" : "";
  const card = el("article", { class: `candidate band-${band}${size}`, "aria-label": `Candidate ${i + 1}: ${c.name}` });
  const pair = el("div", { class: "pair" });
  pair.append(
    el("figure", { class: "probe" }, el("img", { src: probeUrl, alt: "Probe: this capture" }), el("figcaption", { text: "Probe" })),
    referencePhoto(c),
  );
  const facts = el("p", { class: "facts" });
  facts.append(
    el("span", { text: `score ${c.score.toFixed(3)}` }),
    el("span", { text: `est. false-match rate ${rate(c.fmr)}` }),
    el("span", { text: `gallery ${c.gallery}` }),
    el("span", { text: c.subject_id }),
  );
  const records = el("ul", { class: "records", "aria-label": `Records linked to ${c.name}` });
  fill(records, c.records, describeRecord);
  card.append(
    el("h3", { text: `${i + 1}. ${c.name}` }),
    pair,
    el("p", { class: `band band-${band}` }, el("strong", { text: band }), ` ${bandMeaning(band, result).replace(/^\w+: /, "— ")}`),
    ...lookalikeNote(c),
    facts,
    el("h4", { text: "Linked records" }),
    records,
    ...dispositionButtons(result, c, onUnauthorized),
  );
  return el("li", {}, card);
}

function reached(result) {
  const items = (result.galleries || []).map((g) => ({
    source: `gallery ${g}`,
    status: "searched",
    reason: `${(result.gallery_sizes || {})[g] ?? "?"} enrolled`,
  }));
  for (const s of result.sources || []) items.push(s);
  return items;
}

// A practice search's score: the quality gates, where the stated mate ranked, and what a good
// capture of the same person looks like (their reference photo, where the range keeps one).
function showPractice(practice) {
  const box = $("results-practice");
  box.hidden = !practice;
  $("practice-good").hidden = true;
  if (!practice) return;
  const who = practice.target_name || "the practice subject";
  const facts = [
    practice.quality_passed
      ? "Quality gates: passed."
      : `Quality gates: not passed (${practice.problems.join("; ") || "refused"}).`,
    !practice.target
      ? "No practice subject was named: this search counts as a miss."
      : practice.mate_first
        ? `${who} was ranked first.`
        : practice.mate_rank
          ? `${who} was ranked ${practice.mate_rank}, not first.`
          : `${who} was not among the candidates.`,
    `${practice.good_capture[0].toUpperCase()}${practice.good_capture.slice(1)}.`,
  ];
  fill($("practice-facts"), facts, (text) => el("li", { text }));
  if (!practice.reference_photo_url) return;
  api
    .photo(practice.reference_photo_url)
    .then((url) => {
      photoUrls.push(url);
      $("practice-good-img").src = url;
      $("practice-good").hidden = false;
    })
    .catch(() => {}); // the words above already say what a good capture would show
}

// Which calibration table set the bands: a poor capture is judged against poor captures (their
// false matches are measured apart), and the officer is told so and how to do better.
const STRATA = {
  all: "Bands from one table measured on all development captures.",
  good: "Bands from the table measured on good captures like this one.",
  poor:
    "Lower-quality capture (small, blurred or turned face): it passed the gates, but its bands " +
    "come from the table measured on poor captures, which allows for their less reliable " +
    "scores. If you can, retake the photo closer, held still, facing the camera.",
};

export function calibrationNote(result) {
  const stratum = result.calibration_stratum;
  if (!stratum) return "";
  return STRATA[stratum] || `Bands from the calibration table for ${stratum} captures.`;
}

export function showResults(result, probeUrl, onUnauthorized) {
  releasePhotos();
  showPractice(result.practice);
  const mode = result.training ? "TRAINING search" : "Live search";
  $("results-notice").textContent =
    result.notice || "A candidate is a lead for human review, never an identification.";
  $("results-summary").textContent =
    `${mode} ${result.search_id} · ${result.purpose} (${result.legal_authority}) · case ${result.case_number}`;
  fill($("candidates"), result.candidates.map((c, i) => [c, i]), ([c, i]) =>
    candidateCard(result, c, i, probeUrl, onUnauthorized),
  );
  fill($("reached"), reached(result), describeSource);
  const note = calibrationNote(result);
  $("results-calibration").textContent = note;
  $("results-calibration").hidden = !note;
  $("results-calibration").classList.toggle("poor", result.calibration_stratum === "poor");
  $("results-pipeline").textContent = `pipeline ${result.pipeline_id}`;
}
