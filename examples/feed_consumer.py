#!/usr/bin/env python3
"""A consumer of graphmirror's change feed: prints every change of the mirror once, as a
JSON line, and remembers how far it got under its consumer name, so that a restart goes
on where it stopped.

  examples/feed_consumer.py --database mirror.db --consumer printer          # then exit
  examples/feed_consumer.py --database mirror.db --consumer printer --follow # keep going

It only reads: the daemon (or another program) keeps the database in sync, and any
number of consumers read it at the same time. Each change is committed once the loop has
handled it (the feed's commit-as-you-go), so a consumer killed midway gets the changes
after its last commit again: handle them idempotently, by seq.
"""

import argparse
import json
import sys
import time

import graphmirror


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="the mirror's SQLite file")
    parser.add_argument("--consumer", required=True, help="the name of the cursor")
    parser.add_argument("--follow", action="store_true", help="poll for new changes")
    args = parser.parse_args()

    with graphmirror.Mirror(database=args.database) as mirror:
        while True:
            feed = mirror.changes(consumer=args.consumer, batch=500)
            for change in feed:
                print(json.dumps(change), flush=True)
            # Exhausted: the feed has committed everything it printed.
            if not args.follow:
                return 0
            time.sleep(1)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
    except graphmirror.Error as e:
        print("feed_consumer: %s" % e, file=sys.stderr)
        sys.exit(1)
