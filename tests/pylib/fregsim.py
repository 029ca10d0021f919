"""The Folkeregister simulator (tests/freg/freg_sim.py) as a fixture."""
import json
import os
import subprocess
import sys
import urllib.request

SIM = os.path.join(os.path.dirname(__file__), "..", "freg", "freg_sim.py")


class FregSim:
    def __init__(self, register, token="test-token", seed=1, tls=None, **faults):
        args = [sys.executable, SIM, "--register", register, "--token", token, "--seed", str(seed),
                "--config", json.dumps(faults)]
        if tls:
            args += ["--tls", *tls]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("freg-sim: "), line
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.tls = tls

    def _call(self, path, data=None):
        import ssl
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls[0])
        base = f"https://localhost:{self.port}" if self.tls else self.url
        req = urllib.request.Request(base + path, data=None if data is None else json.dumps(data).encode(),
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            return json.loads(r.read())

    def config(self, **faults):
        return self._call("/_sim/config", faults)

    def stats(self):
        return self._call("/_sim/stats")

    def max_in_window(self, window=1.0):
        """The most requests that arrived within any `window` seconds."""
        times = sorted(t for t, _, _ in self.stats()["log"])
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - window:
                j += 1
            best = max(best, i - j + 1)
        return best

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
