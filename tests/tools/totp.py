#!/usr/bin/env python3
"""The current one-time code (RFC 6238) for a base32 key: for the demo and for
trying the client by hand, as an authenticator app would show it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrserver import totp  # noqa: E402

if len(sys.argv) != 2:
    sys.exit("Bruk: totp.py NØKKEL")
print(totp(sys.argv[1].strip()))
