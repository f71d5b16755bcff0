"""``mobileid admin check-index``: every vector of a gallery's index compared with SQL."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mobileid.config import Settings
from mobileid.errors import InvalidArgument, NotFound

EXIT_DIFFERS = 1  # differences found and left as they are (--report-only), as cmp and diff do

CHECK_HELP = """\
Compare every vector of the face index (FAISS files, or Milvus by MOBILEID_VECTOR_URI) with
the embeddings in the database, gallery by gallery and pipeline by pipeline, --batch rows at a
time with progress on stderr, and say what differs: rows missing from the index, vectors
that differ from the database's (garbled bytes), with --search vectors not found by searching
for them (a Milvus Lite folder searches a copy of its vectors apart from the one read by id;
costs about one search per row), and vectors the index holds beyond the database's. An index
that differs is rebuilt from the database (the source of truth), unless --report-only.
The first search of each process compares only a sample of 32 vectors; this compares all.
Sealed FAISS files are checked whole as they are read, so they are compared by count only.
Run it at any time: the service keeps searching meanwhile (during a rebuild its searches
see part of the gallery, and every hit is checked against the database).
Exit status: 0 the index agrees with the database (or was rebuilt from it), 1 differences
found and left (--report-only), 5 no such gallery, 12 the database or Milvus unavailable."""


def add_check_index_parser(asub: Any, common: argparse.ArgumentParser) -> None:
    check = asub.add_parser(
        "check-index",
        parents=[common],
        help="compare every vector of the face index with the database and rebuild what "
        "differs (no token: it changes no subject or audit entry)",
        description=CHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("gallery", nargs="?", metavar="GALLERY", help="one gallery (default: all)")
    check.add_argument(
        "--report-only", action="store_true", help="say what differs, rebuild nothing"
    )
    check.add_argument(
        "--search", action="store_true", help="also search for every vector (slower)"
    )
    check.add_argument(
        "--batch", type=int, default=1000, metavar="N", help="rows compared per request (1000)"
    )
    check.set_defaults(handler=_check_index)


def _check_index(args: argparse.Namespace, settings: Settings) -> int:
    from mobileid.cli.progress import ProgressLine
    from mobileid.gallery.embedded import EmbeddedGallery
    from mobileid.gallery.full_check import check_partition, partitions
    from mobileid.service.context import open_context

    if not 1 <= args.batch <= 16_384:  # Milvus takes at most 16,384 ids or probes a request
        raise InvalidArgument(f"--batch: expected 1 to 16384, got {args.batch}", field="--batch")
    ctx = open_context(settings)
    try:
        gallery = ctx.gallery
        assert isinstance(gallery, EmbeddedGallery)  # open_context builds no other
        known = gallery.galleries()
        if args.gallery is not None and args.gallery not in known:
            raise NotFound(
                f"GALLERY: expected one of {', '.join(known) or 'no galleries'}, got "
                f"{args.gallery!r}",
                field="GALLERY",
            )
        reports = []
        for part in partitions(gallery.sync, [args.gallery] if args.gallery else known):
            line = ProgressLine(f"{part.gallery} ({part.pipeline_id})")
            reports.append(
                check_partition(
                    gallery.sync,
                    part,
                    batch=args.batch,
                    search=args.search,
                    rebuild=not args.report_only,
                    progress=line,
                )
            )
    finally:
        ctx.close()
    _print(reports, args.json)
    left = any(not r.agrees and not r.rebuilt for r in reports)
    return EXIT_DIFFERS if left else 0


def _print(reports: list[Any], as_json: bool) -> None:
    if as_json:
        out = [
            {
                "gallery": r.gallery,
                "pipeline_id": r.pipeline_id,
                "index": r.kind,
                "rows": r.rows,
                "held": r.held,
                "by_vector": r.by_vector,
                "agrees": r.agrees,
                "differences": r.differences(),
                "counts": {**r.counts, "extra": r.extra},
                "rebuilt": r.rebuilt,
            }
            for r in reports
        ]
        print(json.dumps({"partitions": out}, indent=2))
        return
    for r in reports:
        how = "vector by vector" if r.by_vector else "by count"
        head = f"{r.gallery} ({r.pipeline_id}, {r.kind}): {r.rows} rows compared {how}"
        if r.agrees:
            print(f"{head}: the index agrees with the database")
            continue
        print(f"{head}: {'; '.join(r.differences())}")
        print("  rebuilt from the database" if r.rebuilt else "  left as it is (--report-only)")
