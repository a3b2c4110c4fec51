"""Runs examples/feed_consumer.py (the path given) twice over a mirror of graphsim: the
first run prints every change, the second nothing (its cursor was committed)."""

import json
import os
import subprocess
import sys

import graphmirror
from simulator import Simulator


def run(example, database):
    out = subprocess.run([sys.executable, example, "--database", database,
                          "--consumer", "example"],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def main():
    example = sys.argv[1]
    sim = Simulator(users=2, messages=10, events=0, contacts=2)
    try:
        with graphmirror.Mirror(sim.write_config()) as mirror:
            reports = mirror.sync_once()
            assert all(r["ok"] for r in reports), reports
        first = run(example, sim.database)
        assert len(first) == 2 * (10 + 2), len(first)
        assert [c["seq"] for c in first] == list(range(1, len(first) + 1)), first
        second = run(example, sim.database)
        assert second == [], second
        print("feed_consumer printed %d changes, then none" % len(first))
    finally:
        sim.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
