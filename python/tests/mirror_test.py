"""The graphmirror module against the graphsim binary: a sync from Python, then status,
queries, search and the change feed compared with what the simulator holds; a read-only
open of the database; the engine started live, and a change made in the simulator seen
through the feed."""

import os
import threading
import time
import unittest

import graphmirror
from simulator import Simulator, free_port

USERS, MESSAGES, EVENTS, CONTACTS = 2, 15, 4, 3


class SyncedMirrorTest(unittest.TestCase):
    """One synced mirror shared by the tests of this class (a sync takes a moment)."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(USERS, MESSAGES, EVENTS, CONTACTS)
        cls.mirror = graphmirror.Mirror(cls.sim.write_config())
        cls.reports = cls.mirror.sync_once()

    @classmethod
    def tearDownClass(cls):
        cls.mirror.close()
        cls.sim.close()

    def test_sync_reports(self):
        self.assertEqual(len(self.reports), USERS * 3)
        for report in self.reports:
            self.assertTrue(report["ok"], report)
        by = {(r["user_id"], r["collection"]): r for r in self.reports}
        for user in self.sim.users:
            self.assertEqual(by[(user, "messages")]["items"], MESSAGES)
            self.assertEqual(by[(user, "contacts")]["items"], CONTACTS)

    def test_status(self):
        status = self.mirror.status()
        self.assertFalse(status["running"])
        self.assertEqual(status["log_backlog"], 0)
        collections = {(c["user_id"], c["collection"]): c for c in status["collections"]}
        for user in self.sim.users:
            self.assertEqual(collections[(user, "messages")]["items"], MESSAGES)
            self.assertEqual(collections[(user, "messages")]["last_sync_kind"] != "", True)
        self.assertIn("items_received", status["progress"])

    def test_messages_are_the_simulators(self):
        for user in self.sim.users:
            messages = self.mirror.messages(user_id=user)
            self.assertEqual(sorted(m["id"] for m in messages), self.sim.ids(user, "messages"))
            received = [m["received_at"] for m in messages]
            self.assertEqual(received, sorted(received, reverse=True))  # newest first
            self.assertTrue(all(m["user_id"] == user and m["json"] for m in messages))
        self.assertEqual(len(self.mirror.messages(limit=3)), 3)
        newest = self.mirror.messages(user_id=self.sim.users[0])[0]["received_at"]
        self.assertEqual(
            len(self.mirror.messages(user_id=self.sim.users[0], received_from=newest)), 1)

    def test_contacts_and_events(self):
        for user in self.sim.users:
            contacts = self.mirror.contacts(user_id=user)
            self.assertEqual(sorted(c["id"] for c in contacts), self.sim.ids(user, "contacts"))
            self.assertIsInstance(contacts[0]["emails"], list)
            if contacts[0]["emails"]:
                email = contacts[0]["emails"][0].upper()  # case-insensitive
                self.assertIn(contacts[0]["id"],
                              [c["id"] for c in self.mirror.contacts(user_id=user, email=email)])
            events = self.mirror.events(user_id=user, from_="2000-01-01T00:00:00Z",
                                        until="2100-01-01T00:00:00Z", limit=1000)
            self.assertTrue(events)
            starts = [e["start_at"] for e in events]
            self.assertEqual(starts, sorted(starts))
            self.assertTrue(all(e["type"] in ("singleInstance", "occurrence", "exception")
                                for e in events))

    def test_search(self):
        word = self.mirror.messages(limit=1)[0]["subject"].split()[0]
        hits = self.mirror.search(word)
        self.assertTrue(hits)
        self.assertTrue(all("[" in h["body_preview"] or word.lower() in h["subject"].lower()
                            for h in hits))
        self.assertEqual(self.mirror.search("zzzznotaword"), [])
        self.assertLessEqual(len(self.mirror.search(word, limit=1)), 1)

    def test_list_items_of_a_list_never_synced(self):
        self.assertEqual(self.mirror.list_items(
            "https://contoso.sharepoint.com/sites/team",
            "5c77a7c1-0000-0000-0000-000000000000"), [])

    def test_change_feed_commit_as_you_go(self):
        total = USERS * (MESSAGES + CONTACTS)  # at least: events add occurrences
        changes = list(self.mirror.changes(consumer="all", batch=7))
        self.assertGreaterEqual(len(changes), total)
        seqs = [c["seq"] for c in changes]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertTrue(all(c["kind"] == "insert" and c["fields"] is None for c in changes))
        message_ids = {c["item_id"] for c in changes if c["resource"] == "messages"}
        self.assertEqual(len(message_ids), USERS * MESSAGES)
        # Exhausted, the feed committed everything: nothing comes again.
        self.assertEqual(list(self.mirror.changes(consumer="all")), [])
        cursor = {c["name"]: c["last_seq"] for c in self.mirror.consumers()}
        self.assertEqual(cursor["all"], seqs[-1])

    def test_change_feed_break_redelivers_the_batch(self):
        feed = self.mirror.changes(consumer="breaker", batch=5)
        first = [next(feed) for _ in range(7)]  # the whole first batch, two of the second
        self.assertEqual(feed.committed_seq, first[4]["seq"])  # read the second: committed
        del feed
        again = next(iter(self.mirror.changes(consumer="breaker")))
        self.assertEqual(again["seq"], first[5]["seq"])  # the uncommitted ones come again
        feed = self.mirror.changes(consumer="breaker")
        next(feed)
        feed.commit()
        self.assertEqual(next(iter(self.mirror.changes(consumer="breaker")))["seq"],
                         first[6]["seq"])

    def test_change_feed_explicit_commit(self):
        feed = self.mirror.changes(consumer="manual", batch=4, commit=False)
        seen = [c["seq"] for c in feed]
        self.assertEqual(feed.last_seq, seen[-1])
        self.assertEqual(feed.committed_seq, 0)
        # Nothing committed: read again from the start, by the consumer's cursor.
        self.assertEqual(self.mirror.read_changes(consumer="manual", limit=1)[0]["seq"],
                         seen[0])
        self.mirror.commit_changes("manual", seen[9])
        self.assertEqual(next(iter(self.mirror.changes(consumer="manual")))["seq"], seen[10])
        self.assertEqual(self.mirror.read_changes(after=seen[0], limit=2)[0]["seq"], seen[1])
        self.mirror.drop_consumer("manual")
        self.assertNotIn("manual", [c["name"] for c in self.mirror.consumers()])

    def test_errors(self):
        with self.assertRaises(graphmirror.Error) as caught:
            self.mirror.commit_changes("x", 10**12)  # beyond the newest change
        self.assertEqual(caught.exception.code, "invalid argument")
        with self.assertRaises(graphmirror.Error) as caught:
            self.mirror.drop_consumer("never-seen")
        self.assertEqual(caught.exception.code, "not found")
        with self.assertRaises(graphmirror.Error):
            self.mirror.read_changes()
        with self.assertRaises(graphmirror.Error):
            self.mirror.resync(self.sim.users[0], "notes")

    def test_read_only_open_of_the_database(self):
        with graphmirror.Mirror(database=self.sim.database) as reader:
            self.assertEqual(len(reader.messages(user_id=self.sim.users[1])), MESSAGES)
            self.assertTrue(reader.search(self.mirror.messages(limit=1)[0]["subject"]
                                          .split()[0]))
            self.assertTrue(reader.read_changes(after=0, limit=10))
        self.assertTrue(reader.closed)
        with self.assertRaises(graphmirror.Error) as caught:
            reader.messages()
        self.assertEqual(caught.exception.code, "cancelled")
        missing = os.path.join(os.path.dirname(self.sim.database), "no-such.db")
        with self.assertRaises(graphmirror.Error) as caught:
            graphmirror.Mirror(database=missing)
        self.assertEqual(caught.exception.code, "not found")
        self.assertFalse(os.path.exists(missing))

    def test_the_gil_is_released_while_the_engine_works(self):
        # Another Python thread runs while this one waits in the engine.
        ticks = []
        stop = threading.Event()

        def tick():
            while not stop.is_set():
                ticks.append(1)
                time.sleep(0.001)

        thread = threading.Thread(target=tick)
        thread.start()
        try:
            for _ in range(20):
                self.mirror.verify(user_id=self.sim.users[0], collection="messages")
        finally:
            stop.set()
            thread.join()
        self.assertGreater(len(ticks), 0)


class LiveMirrorTest(unittest.TestCase):
    def test_start_notifications_and_stop(self):
        sim = Simulator(users=1, messages=5, events=0, contacts=0, seed=3)
        self.addCleanup(sim.close)
        mirror = graphmirror.Mirror(sim.write_config(webhook_port=free_port()))
        self.addCleanup(mirror.close)
        mirror.start()
        self.assertTrue(mirror.wait_for_initial_sync(timeout=60))
        status = mirror.status()
        self.assertTrue(status["running"])
        self.assertTrue(status["ready"])
        self.assertTrue(mirror.healthy())
        self.assertTrue(status["subscriptions"])
        inserts = list(mirror.changes(consumer="live"))
        self.assertEqual(len([c for c in inserts if c["resource"] == "messages"]), 5)

        # A message changed in Graph: its notification reaches the engine's listener and
        # the update comes out of the feed.
        user = sim.users[0]
        message_id = sim.ids(user, "messages")[0]
        sim.graph("PATCH", "/users/%s/messages/%s" % (user, message_id), {"subject": "Changed from Python"})
        deadline = time.monotonic() + 30
        updates = []
        while not updates and time.monotonic() < deadline:
            updates = [c for c in mirror.changes(consumer="live")
                       if c["item_id"] == message_id and c["kind"] == "update"]
            time.sleep(0.1)
        self.assertTrue(updates, "no update in the feed")
        self.assertIn("subject", updates[0]["fields"])
        self.assertEqual([m for m in mirror.messages(user_id=user)
                          if m["id"] == message_id][0]["subject"], "Changed from Python")
        self.assertIn("graphmirror", mirror.metrics())

        mirror.stop()
        self.assertFalse(mirror.status()["running"])


if __name__ == "__main__":
    unittest.main()
