#!/usr/bin/env python3
"""Renders the rows the benchmark programs printed (JSON lines) as the BENCHMARKS.md table.

  report.py RESULTS                      print the table
  report.py RESULTS --write FILE         print it and rewrite FILE (BENCHMARKS.md)
  report.py RESULTS --compare FILE       print, for each row measured, its value and ratio
                                         against the same row in FILE, and the ratio of
                                         ratios (now / then): below 1, the row got slower
                                         relative to its own baseline
"""
import datetime
import json
import os
import platform
import subprocess
import sys


# The heading of BENCHMARKS.md's hand-written part, kept when the file is rewritten.
ANALYSIS = "## Where the time goes"


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def number(v):
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def table(rows):
    lines = ["| # | what | measured | baseline (same run) | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["row"]):
        ratio = ""
        if r.get("baseline"):
            ratio = f"{r['value'] / r['baseline']:.2f}"
        base = "—"
        if r.get("baseline") is not None:
            base = f"{number(r['baseline'])} {r['unit']} ({r['baseline_what']})"
        lines.append(f"| {r['row']} | {r['what']} | {number(r['value'])} {r['unit']} | {base} | "
                     f"{ratio} | {r['target']} | {'yes' if r['met'] else 'no'} |")
    return "\n".join(lines)


def parse_measure(cell):
    """ "11,585 POST/s" -> 11585.0; "—" or "" -> None."""
    head = cell.strip().split(" ")[0].replace(",", "")
    try:
        return float(head)
    except ValueError:
        return None


def previous_rows(path):
    """The rows of a BENCHMARKS.md table: {row: (measured, ratio or None, line)}."""
    out = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[0].isdigit():
            continue
        ratio = None
        try:
            ratio = float(cells[4]) if cells[4] else None
        except ValueError:
            pass
        out[int(cells[0])] = (parse_measure(cells[2]), ratio, cells[1])
    return out


def compare(rows, path):
    """Lines comparing each measured row with the same row in `path`; the rows that lost
    more than a fifth of their ratio to their baseline are marked."""
    then = previous_rows(path)
    lines = ["| # | then | now | then ratio | now ratio | ratio of ratios | |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["row"]):
        before = then.get(r["row"])
        now_ratio = r["value"] / r["baseline"] if r.get("baseline") else None
        if before is None:
            lines.append(f"| {r['row']} | (not in {os.path.basename(path)}) | "
                         f"{number(r['value'])} {r['unit']} | | "
                         f"{'' if now_ratio is None else f'{now_ratio:.2f}'} | | new |")
            continue
        value, ratio, _ = before
        of = ""
        mark = ""
        if ratio and now_ratio is not None:
            of = f"{now_ratio / ratio:.2f}"
            if now_ratio < 0.8 * ratio:
                mark = "SLOWER"
        elif value:
            of = f"value {r['value'] / value:.2f}x"
        lines.append(f"| {r['row']} | {number(value)} | {number(r['value'])} {r['unit']} | "
                     f"{'' if ratio is None else f'{ratio:.2f}'} | "
                     f"{'' if now_ratio is None else f'{now_ratio:.2f}'} | {of} | {mark} |")
    return "\n".join(lines)


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    text = table(rows)
    print(text)
    if len(sys.argv) > 3 and sys.argv[2] == "--compare":
        print()
        print(compare(rows, sys.argv[3]))
        return
    if len(sys.argv) > 3 and sys.argv[2] == "--write":
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        details = "\n".join(f"- **{r['row']}** {r['detail']}. Reproduce: `{r['reproduce']}`."
                            for r in sorted(rows, key=lambda r: r["row"]))
        # The hand-written analysis (profiles of the rows that miss their target) stays.
        analysis = ""
        try:
            previous = open(sys.argv[3]).read()
            at = previous.find(ANALYSIS)
            if at >= 0:
                analysis = "\n" + previous[at:]
        except OSError:
            pass
        with open(sys.argv[3], "w") as out:
            out.write("# Benchmarks\n\n"
                      f"Measured by `bench/run` on {datetime.date.today()} at commit {commit}, "
                      f"on {machine()}. Every ratio compares with a baseline measured in the same "
                      "run on the same machine.\n\n" + text + "\n\n## Details\n\n" + details + "\n" +
                      analysis)


if __name__ == "__main__":
    main()
