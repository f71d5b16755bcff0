#!/usr/bin/env python3
"""Verify a mobileid audit export without mobileid: Python's standard library + `cryptography`.

    python3 verify_audit_export.py EXPORT_DIR [--public-key PEM ...]

Prints one JSON verdict and exits 0 (intact), 1 (not intact) or 2 (not a readable export).
The rules it checks are in docs/audit-export.md; it trusts the keys in EXPORT_DIR/keys unless
--public-key names the ones to trust (better: keys obtained from the deployment directly).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FIELDS = ("sequence", "time", "operator", "role", "event", "component", "outcome", "details",
          "clock_regressed", "prev_hash")  # fmt: skip


def canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def load_keys(pems: list[bytes]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for pem in pems:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("a public key is not Ed25519")
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys[hashlib.sha256(raw).hexdigest()[:16]] = key
    return keys


def signed(keys: dict[str, Ed25519PublicKey], head: dict) -> bool:
    key = keys.get(head["key_id"])
    if key is None:
        return False
    message = {f: head[f] for f in ("sequence", "entry_hash", "time", "key_id")}
    message["format"] = "mobileid-audit-checkpoint/1"
    try:
        key.verify(bytes.fromhex(head["signature"]), canonical(message))
    except (InvalidSignature, ValueError):
        return False
    return True


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def check_manifest(folder: Path) -> str | None:
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    for name, digest in manifest["sha256"].items():
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            return f"{name} does not match the manifest's SHA-256"
    return None


def walk(entries: list[dict]) -> tuple[list[str], tuple[int, str] | None]:
    """Entry hashes in order, and the first fault of the chain itself."""
    hashes, prev = [], "0" * 64
    for i, row in enumerate(entries, start=1):
        if row["sequence"] != i:
            return hashes, (i, f"entry {i} is missing or out of order")
        payload = {f: row[f] for f in FIELDS}
        payload["details"] = json.loads(row["details"])
        if hashlib.sha256(canonical(payload)).hexdigest() != row["entry_hash"]:
            return hashes, (i, f"entry {i} was changed: its fields no longer match its hash")
        if row["prev_hash"] != prev:
            return hashes, (i, f"entry {i} does not follow entry {i - 1}")
        hashes.append(prev := row["entry_hash"])
    return hashes, None


def check_witness(witness: list[dict], hashes: list[str], cps: set, keys: dict) -> list:
    faults, last, every = [], 0, None
    for n, line in enumerate(witness, start=1):
        seq, first = line["sequence"], line["first_sequence"]
        if first != last + 1 or not signed(keys, line):
            faults.append((last + 1, f"witness line {n} is unsigned, unknown or not contiguous"))
            break
        for at, leaf in enumerate(line["leaves"], start=first):
            if at > len(hashes):
                faults.append((at, f"the witness vouches for entry {at}, which is gone"))
                break
            if hashes[at - 1] != leaf:
                faults.append((at, f"entry {at} differs from what the witness signed"))
                break
        if (seq, line["signature"]) not in cps:
            faults.append((seq, f"the witnessed head of entry {seq} is not among the checkpoints"))
        last, every = seq, line.get("every", 1)
    return [*faults, ("every", every, last)]


def verify(folder: Path, key_files: list[Path]) -> dict:
    fault = check_manifest(folder)
    entries = read_lines(folder / "entries.jsonl")
    checkpoints = read_lines(folder / "checkpoints.jsonl")
    witness = read_lines(folder / "witness.jsonl")
    pems = [p.read_bytes() for p in (key_files or sorted((folder / "keys").glob("*.pem")))]
    keys = load_keys(pems)
    hashes, chain_fault = walk(entries)
    faults = [(1, fault)] if fault else []
    faults += [chain_fault] if chain_fault else []
    good = set()
    for cp in checkpoints:
        ok = signed(keys, cp) and cp["sequence"] <= len(hashes)
        if not ok or hashes[cp["sequence"] - 1] != cp["entry_hash"]:
            faults.append((cp["sequence"], f"checkpoint of entry {cp['sequence']} does not hold"))
        else:
            good.add((cp["sequence"], cp["signature"]))
    *witness_faults, (_, every, witnessed) = check_witness(witness, hashes, good, keys)
    faults += witness_faults
    signed_through = max([witnessed, *(s for s, _ in good)])
    tail = len(entries) - signed_through
    if every is not None and tail >= every and not faults:
        faults.append((signed_through + 1, f"{tail} entries after the last signed head"))
    first = min(faults, key=lambda f: f[0]) if faults else None
    return {
        "ok": first is None,
        "entries": len(entries),
        "checkpoints": len(checkpoints),
        "witness_heads": len(witness),
        "signed_through": signed_through,
        "tail_entries": tail,
        "first_bad_sequence": first[0] if first else None,
        "reason": first[1] if first else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--public-key", type=Path, action="append", default=[])
    args = parser.parse_args()
    try:
        verdict = verify(args.export, args.public_key)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(json.dumps({"ok": False, "error": f"not a readable export: {exc}"}))
        return 2
    print(json.dumps(verdict, indent=2))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
