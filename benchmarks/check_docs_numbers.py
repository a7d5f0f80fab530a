"""List every number in the benchmark docs that no stored row under `benchmarks/results/` accounts for.

A number in `docs/benchmarks*.md` is *traceable* when a number stored in a committed file under
`benchmarks/results/` (JSON, JSONL, CSV, logs) rounds to it at the precision it is printed with, directly or as
a percentage (x100), in thousands or millions (/1000: MB -> GB, /1e6: tokens -> M) or in thousandths (x1000: s -> ms). A ratio printed with
`×`/`x` (or a "% fewer/faster" saving) is *derived* when it equals the ratio of two traceable numbers of the same
paragraph or table. Everything else is listed, with its file, line and context, and the exit code is 1.

Skipped as not measurements: fenced code blocks and inline code, link targets, versions and dates, section
references (`§8.7`), numbers glued to letters (`GPT-2`, `L6`, `x86`), and small integers (< 10) that are not
followed by a unit.

Usage (from the repository root):

```bash
python benchmarks/check_docs_numbers.py                     # docs/benchmarks*.md
python benchmarks/check_docs_numbers.py docs/lava.md        # any other page
python benchmarks/check_docs_numbers.py --show-derived      # also print the derived ratios and their operands
```
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SOURCE_SUFFIXES = {".json", ".jsonl", ".csv", ".log", ".txt", ".tsv", ".md"}
IGNORED_DIRS = {"cache", "data", "gotd_emb"}  # git-ignored caches are not stored rows

NUMBER = re.compile(r"(?<![\w.§/#-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(e[-+−]?\d+)?(?![\w.-]*\d)")
UNIT_AFTER = re.compile(r"^\s?(%|×|x\b|s\b|ms\b|MB\b|GB\b|CPU|rows/s|sentences/s|examples/s|steps\b|iterations)")
PACKAGE_VERSION = re.compile(
    r"\b(numpy|torch|transformers|datasets|accelerate|POT|captum|dattri|OpenDataVal|opendataval|pyDVL|data-selection|"
    r"Python|CUDA)\s+\d+(?:\.\d+)*",
    re.IGNORECASE,
)
RATIO_AFTER = re.compile(r"^\s?(×|x\b)|^\s?%\s+(fewer|faster|slower|less|more)")
STORED = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def stored_numbers(root: Path) -> list[float]:
    values: set[float] = set()
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in SOURCE_SUFFIXES:
            continue
        if IGNORED_DIRS.intersection(path.relative_to(root).parts[:-1]):
            continue
        for token in STORED.findall(path.read_text(encoding="utf-8", errors="replace")):
            value = float(token)
            if math.isfinite(value):
                values.add(abs(value))
    return sorted(values)


def _matches(x: float, decimals: int, candidates: list[float]) -> bool:
    half = 0.5 * 10.0**-decimals + 1e-12
    import bisect

    for scale in (1.0, 100.0, 1e-3, 1e3, 1e-6):
        # v * scale within half of x  <=>  v within [(x - half) / scale, (x + half) / scale]
        lo, hi = (x - half) / scale, (x + half) / scale
        i = bisect.bisect_left(candidates, lo)
        if i < len(candidates) and candidates[i] <= hi:
            return True
    return False


def _ratio_of(x: float, dx: int, p: float, dp: int, q: float, dq: int) -> bool:
    """Whether `x` (printed with `dx` decimals) is p / q, or a saving 1 - p / q in %, for some p and q within their
    own rounding (`dp`, `dq` decimals)."""
    if p <= 0 or q <= 0 or p == q:
        return False
    hp, hq, hx = 0.5 * 10.0**-dp, 0.5 * 10.0**-dq, 0.5 * 10.0**-dx + 1e-12
    lo, hi = max(p - hp, 0.0) / (q + hq), (p + hp) / max(q - hq, 1e-300)
    if lo - hx <= x <= hi + hx:
        return True
    return 100 * (1 - hi) - hx <= x <= 100 * (1 - lo) + hx


def _strip(line: str) -> str:
    line = re.sub(r"`[^`]*`", " ", line)  # inline code: commands, flags, identifiers
    line = re.sub(r"\]\([^)]*\)", "]", line)  # link targets
    line = re.sub(r"\b\d+\.\d+\.\d+(?:[.+]\w+)*", " ", line)  # versions
    line = PACKAGE_VERSION.sub(" ", line)
    line = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", " ", line)  # dates
    line = re.sub(r"§\s*\d+(?:\.\d+)*", " ", line)  # section references
    return line


def doc_numbers(path: Path):
    """Yield `(block_id, line_no, value, decimals, is_ratio, context)` for every number of a markdown page."""
    in_fence, block = False, 0
    for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if not raw.strip() or raw.startswith("#"):
            block += 1
            continue
        line = _strip(raw)
        for match in NUMBER.finditer(line):
            integer, frac, exp = match.group(1), match.group(2) or "", match.group(3) or ""
            after = line[match.end() :]
            before = line[max(0, match.start() - 1) : match.start()]
            if before.isalpha():
                continue
            decimals = len(frac) - 1 if frac else 0
            value = float(integer.replace(",", "") + frac + exp.replace("−", "-"))
            if exp:
                decimals = max(0, -int(math.floor(math.log10(value))) + len(frac.lstrip(".")))
            if not frac and not exp and not UNIT_AFTER.match(after):
                continue  # a count without a unit is a setup fact (rows, classes, seeds), not a measurement
            yield block, no, value, decimals, bool(RATIO_AFTER.match(after)), raw.strip()


def check(paths: list[Path], show_derived: bool) -> int:
    stored = stored_numbers(RESULTS)
    missing = 0
    for path in paths:
        entries = list(doc_numbers(path))
        traced = {(b, n, v, d) for b, n, v, d, _, _ in entries if _matches(v, d, stored)}
        by_block: dict[int, list[tuple[float, int]]] = {}
        for b, _n, v, _d, _r, _c in entries:
            if (b, _n, v, _d) in traced:
                by_block.setdefault(b, []).append((v, _d))
        for block, no, value, decimals, is_ratio, context in entries:
            if (block, no, value, decimals) in traced:
                continue
            operands = by_block.get(block, [])
            if is_ratio:
                pairs = [
                    (p, q) for p, dp in operands for q, dq in operands if _ratio_of(value, decimals, p, dp, q, dq)
                ]
                if pairs:
                    if show_derived:
                        print(f"{path.relative_to(ROOT)}:{no}: {value:g} derived = {pairs[0][0]:g} / {pairs[0][1]:g}")
                    continue
            missing += 1
            print(f"{path.relative_to(ROOT)}:{no}: {value:g} has no stored row | {context[:110]}")
    print(f"{missing} number(s) without a traceable source row", file=sys.stderr)
    return 1 if missing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="markdown pages (default: docs/benchmarks*.md)")
    parser.add_argument("--show-derived", action="store_true", help="also print the ratios accepted as derived")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.paths] or sorted((ROOT / "docs").glob("benchmarks*.md"))
    raise SystemExit(check(paths, args.show_derived))


if __name__ == "__main__":
    main()
