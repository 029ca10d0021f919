"""Real jsr-server processes and jsr clients for the integration tests:
temporary directories, ephemeral ports on 127.0.0.1, kill -9 and restart."""
import atexit
import os
import re
import signal
import subprocess
import time

from jsrtest import BIN, env, jsr

SERVER = os.path.join(BIN, "jsr-server")
PASSWORD = "et-langt-passord-for-test"


_running = []


@atexit.register
def _kill_leftovers():
    """A test whose setUp failed never reaches tearDown: no server outlives the run."""
    for p in _running:
        if p.poll() is None:
            p.kill()


def server_env(**extra):
    return env(**{"JSR_PASSWORD_STRENGTH": "min", "JSR_LOG_LEVEL": "warn", **extra})


class Server:
    def __init__(self, tmp, users=(("kari", "kommune_user", ["0301"]),), config=None, name="srv"):
        self.dir = os.path.join(tmp, name)
        self.proc = None
        self.url = None
        self.port = 0
        self.log = os.path.join(tmp, name + ".log")
        p = subprocess.run([SERVER, "init", "--data", self.dir], capture_output=True, text=True,
                           env=server_env(JSR_ADMIN_PASSWORD=PASSWORD), timeout=60)
        assert p.returncode == 0, p.stderr
        self.fingerprint = re.search(r"Fingeravtrykk: ([0-9a-f]{40})", p.stdout).group(1)
        # the sync tests log in without a second factor; the access tests turn it on
        config = {"require_totp": 0, **(config or {})}
        with open(os.path.join(self.dir, "jsr-server.conf"), "w") as f:
            for k, v in config.items():
                f.write(f"{k} = {v}\n")
        for name_, role, kommuner in users:
            self.add_user(name_, role, kommuner)

    def add_user(self, name, role, kommuner, password=PASSWORD):
        """Adds a user; returns the TOTP secret jsr-server printed for it."""
        args = [SERVER, "user", "add", "--data", self.dir, "--username", name, "--role", role]
        for k in kommuner:
            args += ["--kommune", k]
        p = subprocess.run(args, capture_output=True, text=True,
                           env=server_env(JSR_PASSWORD=password), timeout=60)
        assert p.returncode == 0, p.stderr
        m = re.search(r"nøkkelen ([A-Z2-7]{32})", p.stdout)
        self.totp_secrets = getattr(self, "totp_secrets", {})
        self.totp_secrets[name] = m.group(1) if m else None
        return self.totp_secrets[name]

    def cli(self, *args, check=None, **extra_env):
        p = subprocess.run([SERVER, *args, "--data", self.dir], capture_output=True, text=True,
                           env=server_env(**extra_env), timeout=60)
        if check is not None:
            assert p.returncode == check, f"jsr-server {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def start(self, port=None, **extra_env):
        """Starts (on the same port as before when restarting)."""
        port = self.port if port is None else port
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(
            [SERVER, "run", "--data", self.dir, "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=logf, text=True, env=server_env(**extra_env))
        _running.append(self.proc)
        logf.close()
        line = self.proc.stdout.readline()
        m = re.search(r"(wss?://127\.0\.0\.1:(\d+)/sync)", line)
        assert m, f"server did not start: {line!r}\n{open(self.log).read()[-2000:]}"
        self.url, self.port = m.group(1), int(m.group(2))
        return self.url

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def restart(self):
        self.kill()
        for _ in range(50):  # the port may linger for a moment
            try:
                return self.start()
            except AssertionError:
                time.sleep(0.1)
        return self.start()

    def hash(self, kommune):
        p = subprocess.run([SERVER, "hash", "--data", self.dir, "--kommune", kommune],
                           capture_output=True, text=True, env=server_env(), timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    def sql(self, query):
        import sqlite3
        db = sqlite3.connect(os.path.join(self.dir, "store.db"), timeout=30)
        try:
            rows = db.execute(query).fetchall()
            db.commit()  # a test's own write (a store as an older server left it)
            return rows
        finally:
            db.close()


class Client:
    def __init__(self, tmp, name, server, user="kari", password=PASSWORD, url=None):
        self.dir = os.path.join(tmp, name)
        self.server, self.user, self.password = server, user, password
        self.url = url
        self.settings = {}  # JSR_<KEY> settings of this client's every command

    def env(self, **extra):
        return env(JSR_DATA=self.dir, JSR_PASSWORD=self.password, **self.settings, **extra)

    def jsr(self, *args, check=None, input=None, timeout=120):
        return jsr(*args, check=check, environ=self.env(), input=input, timeout=timeout)

    def json(self, *args, check=0):
        import json
        return json.loads(self.jsr(*args, "--json", check=check).stdout)

    def pending_miscounted(self):
        """Participants whose outbox count (the overview's «ikke synkronisert»)
        differs from their entries in the outbox: (id, counted, in the outbox)."""
        import sqlite3
        db = sqlite3.connect(os.path.join(self.dir, "replica.db"), timeout=30)
        try:
            # the view decodes the packed entries: once, not once per participant
            return db.execute("WITH o AS (SELECT participant, count(*) n FROM outbox GROUP BY participant) "
                              "SELECT id, pending, coalesce(o.n, 0) FROM participant p LEFT JOIN o "
                              "ON o.participant = p.id WHERE pending <> coalesce(o.n, 0)").fetchall()
        finally:
            db.close()

    def login(self, check=0, totp=None):
        return jsr("login", "--server", self.url or self.server.url, "--server-key",
                   self.server.fingerprint, "--user", self.user, check=check,
                   environ=self.env(JSR_TOTP=totp or ""))

    def sync(self, check=0, timeout_s=60):
        return self.jsr("sync", "--timeout", str(timeout_s), check=check)

    def hash(self, kommune):
        return self.jsr("hash", kommune, check=0).stdout.strip()


def totp(secret_b32, t=None, step=30):
    """RFC 6238 (SHA-1, 6 digits), written here independently of the server."""
    import base64
    import hashlib
    import hmac
    import struct
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if t is None else t) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % code
