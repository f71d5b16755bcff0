"""LFW's pairs files (``pairs.txt``, ``pairsDevTest.txt``): the View 1 / View 2 protocol lists."""

from __future__ import annotations

from pathlib import Path

from mobileid.errors import InvalidArgument


def read_lfw_pairs(path: Path) -> tuple[list[tuple[str, int, str, int]], list[int]]:
    """LFW's pairs format: a header 'folds n' (or just n), then 'name i j' (genuine) or
    'name1 i name2 j' (impostor) lines. Returns the pairs and each pair's fold."""
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise InvalidArgument(f"pairs: cannot read {path}: {exc.strerror}", field="pairs") from None
    header = [int(x) for x in lines[0]] if lines and all(x.isdigit() for x in lines[0]) else []
    # LFW's header: number of folds, then pairs per class per fold (genuine then impostor)
    per = header[1] if len(header) == 2 else 0
    pairs: list[tuple[str, int, str, int]] = []
    fold_of: list[int] = []
    for n, parts in enumerate(lines[1:] if header else lines, start=2 if header else 1):
        try:
            if len(parts) == 3:
                pairs.append((parts[0], int(parts[1]), parts[0], int(parts[2])))
            elif len(parts) == 4:
                pairs.append((parts[0], int(parts[1]), parts[2], int(parts[3])))
            else:
                raise ValueError
        except ValueError:
            raise InvalidArgument(
                f"pairs line {n}: expected 'name i j' or 'name1 i name2 j', "
                f"got {' '.join(parts)!r}",
                field="pairs",
            ) from None
        fold_of.append(len(fold_of) // (2 * per) if per else 0)
    return pairs, fold_of
