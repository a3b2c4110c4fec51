"""A graphsim process for the tests, and a graphmirror config that mirrors it.

GRAPHSIM names the binary (ctest sets it to this build's). The simulator listens on a
free loopback port; its first line is its base URL, then one "user <id> <upn>" line per
mailbox.
"""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Simulator:
    def __init__(self, users=2, messages=15, events=4, contacts=3, seed=7):
        self.dir = tempfile.TemporaryDirectory(prefix="graphmirror-python-")
        self.out_path = os.path.join(self.dir.name, "sim.out")
        with open(self.out_path, "w") as out, open(os.devnull, "w") as err:
            self.process = subprocess.Popen(
                [os.environ["GRAPHSIM"], "--listen", "127.0.0.1:0", "--users", str(users),
                 "--messages", str(messages), "--events", str(events),
                 "--contacts", str(contacts), "--seed", str(seed)],
                stdout=out, stderr=err)
        deadline = time.monotonic() + 20
        while True:
            with open(self.out_path) as f:
                lines = f.read().splitlines()
            users_seen = [l.split()[1] for l in lines if l.startswith("user ")]
            if len(users_seen) == users:
                break
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("graphsim did not start")
            time.sleep(0.05)
        self.base = lines[0].strip()
        self.users = users_seen
        self._token = None

    def write_config(self, webhook_port=None, name="graphmirror.toml"):
        """A config mirroring every simulated mailbox into mirror.db beside it."""
        lines = [
            'database = "mirror.db"',
            "[graph]",
            'base_url = "%s/v1.0"' % self.base,
            'token_url = "%s/common/oauth2/v2.0/token"' % self.base,
            'client_id = "graphsim"',
            'client_secret = "graphsim-secret"',
        ]
        if webhook_port:
            lines += [
                "[webhook]",
                'listen = "127.0.0.1:%d"' % webhook_port,
                'notification_url = "http://127.0.0.1:%d/notifications"' % webhook_port,
            ]
        for user in self.users:
            lines += ["[[mailbox]]", 'user = "%s"' % user]
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    @property
    def database(self):
        return os.path.join(self.dir.name, "mirror.db")

    def ids(self, user, collection):
        with urllib.request.urlopen(
                "%s/_sim/users/%s/%s/ids" % (self.base, user, collection)) as r:
            return json.load(r)["ids"]

    def graph(self, method, path, body=None):
        """A Graph request as the application (graphsim's client credentials)."""
        if self._token is None:
            form = urllib.parse.urlencode({
                "grant_type": "client_credentials", "client_id": "graphsim",
                "client_secret": "graphsim-secret",
                "scope": "https://graph.microsoft.com/.default"}).encode()
            with urllib.request.urlopen(self.base + "/common/oauth2/v2.0/token", form) as r:
                self._token = json.load(r)["access_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + "/v1.0" + path, data=data, method=method,
            headers={"Authorization": "Bearer " + self._token,
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as r:
            text = r.read()
            return json.loads(text) if text else None

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.dir.cleanup()
