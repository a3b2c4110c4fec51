#!/usr/bin/env python3
"""Renders the rows the benchmark programs printed (JSON lines) as the BENCHMARKS.md table."""
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


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    text = table(rows)
    print(text)
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
