"""Fingerprints: contact prints and fingertip photos → minutiae templates → similarity scores.

The public verbs::

    pipe = load_finger_pipeline()                  # loads the LEADER model once (~0.2 s)
    template = pipe.enrol_bytes(data, ppi=None)    # contact print: decode, check, extract
    template = pipe.enrol_photo(jpeg)              # phone photo of one fingertip
    result = pipe.compare(probe, candidate)        # MatchResult; score higher = more alike
    codes = screen_codes([pipe.features(t) ...])   # 1:N first stage (index.py), then
    identify(probe_feats, probe_code, gallery, codes, shortlist)   # geometric check
    record = to_iso19794(template)                 # ISO/IEC 19794-2:2005; to_ansi378: ANSI 378
    views = read_iso19794(record, pipeline_id=...) # and read_ansi378

Stages, one module each, in order in :mod:`mobileid.finger.pipeline`: ``load`` → ``quality``
→ ``extract`` → ``match`` (``contactless`` replaces the first two for photos). Errors in
:mod:`mobileid.finger.errors`; every tuning constant in :mod:`mobileid.finger.params`.
"""
