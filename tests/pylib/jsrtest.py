"""Helpers shared by the Python integration tests (standard library only).

Tests run the real binaries from JSR_BIN (set by CTest) with test mode on.
"""
import json
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("JSR_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
JSR = os.path.join(BIN, "jsr")
SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def env(**extra):
    """The test environment; a value of None removes that variable."""
    e = dict(os.environ)
    e.setdefault("JSR_TEST_MODE", "1")
    e.setdefault("JSR_CODES_DIR", os.path.join(SOURCE, "schema", "codes"))
    for k, v in extra.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    return e


def jsr(*args, input=None, check=None, environ=None, timeout=60):
    """Runs jsr; returns CompletedProcess (text). check=N asserts the exit code."""
    p = subprocess.run([JSR, *args], input=input, capture_output=True, text=True,
                       env=environ or env(), timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError(
            f"jsr {' '.join(args)}: exit {p.returncode}, wanted {check}\n"
            f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def jsr_json(*args, **kw):
    return json.loads(jsr(*args, "--json", **kw).stdout)


def generate(count=1, seed=1, **opts):
    """Valid synthetic numbers from jsr's own generator."""
    args = ["fnr", "generate", "--count", str(count), "--seed", str(seed)]
    for k, v in opts.items():
        args += [f"--{k}"] if v is True else [f"--{k}", str(v)]
    return jsr(*args, check=0).stdout.split()


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="jsr-test-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()
