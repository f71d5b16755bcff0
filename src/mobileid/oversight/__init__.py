"""The oversight report: how the system was used, computed from the audit log alone.

Nobody can quietly change the answers: the figures are counted from the hash-chained log, and
the report states how that very log verified (``chain``). Public face::

    report = build_report(log.read(), date_from=d0, date_to=d1, chain=log.verify(),
                          sources=registry_entries, accuracy=load_accuracy(data_dir / "eval"))
    report.as_dict()                 # the JSON below
    write_html(report, outdir)       # index.html + PNG charts + report.json

``as_dict()`` layout (every count an int; keys missing from an event's details are counted
under ``"(not recorded)"``; a search not explicitly marked ``training`` counts as live)::

    report, format, window{from, to, days, timezone}, generated_at, as_of_sequence, notice
    chain       VerifyReport.as_dict() + window_entries, window_entries_unsigned,
                window_entries_from_break, window_clock_regressed, unreadable_times
    events      total, by_event, by_outcome, by_operator
    searches    total, live, training, by_outcome, refusal_reasons, failure_reasons,
                distinct_cases, per_day{YYYY-MM-DD: {live, training}} (every day of the window),
                per_operator / per_unit / per_modality / per_purpose {key: {live, training}}
    super_queries   total, live, training, by_outcome, per_operator, per_purpose
    legal_authorities   {authority: {searches, super_queries}}
    reach       registry_given, galleries{name: {searches, live, training, size_last, registry}},
                record_sources{name: {queries, <status>: n..., registry}}, unregistered[names]
    bands       scope, searches, searches_by_best_band{strong, possible, none, ...},
                candidates, candidates_by_band{strong, possible, none}
    dispositions    scope, recorded{confirmed, not_a_match, inconclusive, no_action},
                by_best_band{band: {confirmed, not_a_match, inconclusive, no_action,
                lookalike_confirmed, pending}} (lookalike_confirmed: the look-alike shown
                beside a strong candidate was confirmed, so that candidate was not a match),
                strong_then_not_a_match{strong_searches, judged, not_a_match (look-alikes
                confirmed included), of_which_lookalike_confirmed, rate},
                by_subject{scope, subjects_listed, judged_not_a_match,
                mean_not_a_match_per_subject, most_often_not_a_match[{subject_id, gallery,
                listed, listed_first, not_a_match, confirmed}] (the 10 worst)}
    training_vs_live    {searches, super_queries, enrolments, deletions: {live, training}}
    certification   live_searches, live_by_certified_operators (should be all),
                live_by_certification{certified, exempt, (not recorded): the console},
                refused_not_certified, refused_by_operator, lapsed[operators], certified,
                exempted[{operator, by, reason}], certifications_refused
    access      denied, denied_by_reason, denied_by_operator, denied_by_event, lockouts,
                lockouts_by_operator, logon_failures, logon_failures_by_reason
    retention   purges, deleted, failed, by_target[{kind, name, rule, purges, deleted}]
    accuracy    [{kind, pipeline_id, dataset, metrics, date, file}] as given
"""

from mobileid.oversight.accuracy import load_accuracy
from mobileid.oversight.build import MAX_DAYS, build_report, check_window, parse_day
from mobileid.oversight.model import FORMAT, NOT_RECORDED, OversightReport
from mobileid.oversight.page import write_html
from mobileid.oversight.tally import entry_day

__all__ = [
    "FORMAT",
    "MAX_DAYS",
    "NOT_RECORDED",
    "OversightReport",
    "build_report",
    "check_window",
    "entry_day",
    "load_accuracy",
    "parse_day",
    "write_html",
]
