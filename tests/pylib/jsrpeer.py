"""A fake jsr.v1 peer, written from DESIGN.md independently of the C code.

Python standard library for WebSockets (RFC 6455) and libsodium through
ctypes for the sealed boxes. Tests use it to speak raw protocol to the
real jsr-server: good messages, and every kind of bad one.
"""
import base64
import ctypes
import hashlib
import json
import os
import socket
import struct
import time
from urllib.parse import urlparse

PROTO_VERSION = 3  # shared/proto.h SH_PROTO_VERSION

_na = ctypes.CDLL("libsodium.so.23")
assert _na.sodium_init() >= 0
_uc = ctypes.c_ubyte


def _buf(n):
    return (_uc * n)()


def b64(b):
    return base64.b64encode(bytes(b)).decode()


def unb64(s):
    return base64.b64decode(s)


class Keys:
    """A device's (or any party's) crypto_kx and Ed25519 key pairs."""

    def __init__(self):
        self.kx_pk, self.kx_sk = _buf(32), _buf(32)
        self.sign_pk, self.sign_sk = _buf(32), _buf(64)
        _na.crypto_kx_keypair(self.kx_pk, self.kx_sk)
        _na.crypto_sign_keypair(self.sign_pk, self.sign_sk)


def fingerprint(kx_pk, sign_pk):
    return hashlib.blake2b(bytes(kx_pk) + bytes(sign_pk), digest_size=20).hexdigest()


def session_keys(dev, server_kx_pk):
    rx, tx = _buf(32), _buf(32)
    spk = (_uc * 32).from_buffer_copy(server_kx_pk)
    assert _na.crypto_kx_client_session_keys(rx, tx, dev.kx_pk, dev.kx_sk, spk) == 0
    return bytes(rx), bytes(tx)


def _signed_digest(header, nonce, ct):
    return hashlib.blake2b(header.encode() + nonce + ct, digest_size=32).digest()


def seal(key, signer, header, body):
    """A box: header (clear, the additional data), random nonce, ciphertext, signature."""
    if isinstance(body, str):
        body = body.encode()
    nonce = os.urandom(24)
    ct = _buf(len(body) + 16)
    clen = ctypes.c_ulonglong()
    hb = header.encode()
    _na.crypto_aead_xchacha20poly1305_ietf_encrypt(
        ct, ctypes.byref(clen), body, ctypes.c_ulonglong(len(body)), hb,
        ctypes.c_ulonglong(len(hb)), None, nonce, key)
    ct = bytes(ct)[: clen.value]
    sig = _buf(64)
    d = _signed_digest(header, nonce, ct)
    _na.crypto_sign_detached(sig, None, d, ctypes.c_ulonglong(len(d)), signer.sign_sk)
    return {"h": header, "n": b64(nonce), "c": b64(ct), "s": b64(sig)}


def open_box(key, signer_pk, box):
    """Verifies and decrypts; raises ValueError on any failure."""
    nonce, ct, sig = unb64(box["n"]), unb64(box["c"]), unb64(box["s"])
    d = _signed_digest(box["h"], nonce, ct)
    if _na.crypto_sign_verify_detached(sig, d, ctypes.c_ulonglong(len(d)),
                                       (_uc * 32).from_buffer_copy(signer_pk)) != 0:
        raise ValueError("bad signature")
    m = _buf(max(len(ct) - 16, 1))
    mlen = ctypes.c_ulonglong()
    hb = box["h"].encode()
    if _na.crypto_aead_xchacha20poly1305_ietf_decrypt(
            m, ctypes.byref(mlen), None, ct, ctypes.c_ulonglong(len(ct)), hb,
            ctypes.c_ulonglong(len(hb)), nonce, key) != 0:
        raise ValueError("bad box")
    return bytes(m)[: mlen.value]


class Closed(Exception):
    def __init__(self, code=None, reason=""):
        super().__init__(f"closed {code} {reason}")
        self.code, self.reason = code, reason


class WebSocket:
    def __init__(self, url, protocol="jsr.v1", path=None, timeout=10):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = b64(os.urandom(16))
        lines = [f"GET {path or u.path or '/sync'} HTTP/1.1", f"Host: {u.hostname}:{u.port}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed(None, "handshake: connection closed")
            resp += chunk
        head, self._rest = resp.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
        if self.status != 101:
            raise Closed(self.status, "handshake refused")

    def _recv_exact(self, n):
        out = self._rest[:n]
        self._rest = self._rest[n:]
        while len(out) < n:
            chunk = self.sock.recv(max(65536, n - len(out)))
            if not chunk:
                raise Closed(None, "connection closed")
            out += chunk
        if len(out) > n:
            self._rest = out[n:] + self._rest
            out = out[:n]
        return out

    def send_frame(self, opcode, payload, fin=True, mask=True):
        if isinstance(payload, str):
            payload = payload.encode()
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack(">H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack(">Q", n)
        if mask:
            m = os.urandom(4)
            head += m
            payload = bytes(b ^ m[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
                (int.from_bytes(payload, "big") ^ int.from_bytes((m * (n // 4 + 1))[:n], "big")
                 ).to_bytes(n, "big")
        self.sock.sendall(head + payload)

    def send_text(self, text):
        self.send_frame(0x1, text)

    def recv_message(self, timeout=10):
        """A whole text message (str); answers pings; raises Closed."""
        self.sock.settimeout(timeout)
        parts, opcode0 = [], None
        while True:
            h = self._recv_exact(2)
            fin, opcode, n = h[0] & 0x80, h[0] & 0x0F, h[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            if h[1] & 0x80:
                self._recv_exact(4)
            payload = self._recv_exact(n)
            if opcode == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(code, payload[2:].decode(errors="replace"))
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                opcode0 = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return data.decode() if opcode0 == 0x1 else data

    def close(self):
        try:
            self.send_frame(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()


class Device:
    """A device identity: id and keys, kept across connections."""

    def __init__(self):
        self.id = os.urandom(16).hex()
        self.keys = Keys()
        self.session = None
        self.seq = 0


class Peer:
    def __init__(self, url, device=None, timeout=10):
        self.ws = WebSocket(url, timeout=timeout)
        self.device = device or Device()
        self.hello = self.recv()
        assert self.hello["t"] == "hello", self.hello
        self.server_kx = unb64(self.hello["kx"])
        self.server_sign = unb64(self.hello["sig"])
        self.rx, self.tx = session_keys(self.device.keys, self.server_kx)
        self.next_id = 0

    def recv(self, timeout=10, skip_notify=True):
        while True:
            m = json.loads(self.ws.recv_message(timeout))
            if not (skip_notify and m.get("t") == "notify"):
                return m

    def send(self, obj):
        if "id" not in obj:
            self.next_id += 1
            obj["id"] = self.next_id
        self.ws.send_text(json.dumps(obj))
        return obj["id"]

    def box(self, kind, body, **header):
        if kind == "changeset":  # the protocol version of its body (SH_PROTO_VERSION)
            header.setdefault("schema", PROTO_VERSION)
        h = {"k": kind, "dev": self.device.id, **header}
        return seal(self.tx, self.device.keys, json.dumps(h, separators=(",", ":")),
                    json.dumps(body) if not isinstance(body, (bytes, str)) else body)

    def open(self, msg):
        return json.loads(open_box(self.rx, self.server_sign, msg["box"]))

    def login(self, user, password, totp=None):
        k = self.device.keys
        body = {"user": user, "password": password}
        if totp is not None:
            body["totp"] = totp
        self.send({"t": "login", "box": self.box(
            "login", body, kx=b64(k.kx_pk), sig=b64(k.sign_pk),
            challenge=self.hello["challenge"])})
        m = self.recv()
        if m["t"] != "login_ok":
            return m
        body = self.open(m)
        self.device.session = body["session"]
        return body

    def auth(self, session=None):
        self.send({"t": "auth", "box": self.box(
            "auth", {"session": session or self.device.session},
            challenge=self.hello["challenge"])})
        return self.recv()

    @staticmethod
    def changeset(changes):
        """A change-set's body (shared/wire.h): changes [[participant, field, row,
        value, hlc_hex, base], ...] grouped by participant, in their order."""
        groups = []
        for pid, *rest in changes:
            if not groups or groups[-1][0] != pid:
                groups.append([pid, []])
            groups[-1][1].append(rest)
        return {"participants": groups}

    def push(self, changes, seq=None, box=None):
        """changes: [[participant, field, row, value, hlc_hex, base], ...]"""
        if seq is None:
            self.device.seq += 1
            seq = self.device.seq
        self.send({"t": "push", "box": box or self.box("changeset", self.changeset(changes),
                                                        seq=seq, n=len(changes))})
        m = self.recv()
        ack = self.open(m) if m["t"] == "push_ack" else None
        if ack:  # one result a change: a run [code, version, null, null, k] is k of them
            ack["results"] = [[r[0], r[1] + j, None, None] if len(r) == 5 else r
                              for r in ack["results"] for j in range(r[4] if len(r) == 5 else 1)]
        return m, ack

    def pull(self, since=0, limit=5000, base=None):
        """A page after since; base: the values still due (see server/store.h, struct
        ss_cursor), the page's own "base" when continuing a pull."""
        self.send({"t": "pull", "since": since, "limit": limit, **({} if base is None else {"base": base})})
        m = self.recv()
        return m, (self.open(m) if m["t"] == "changes" else None)

    @staticmethod
    def ops(page):
        """A page's values as rows [participant, field, row, value, version, hlc, author]
        (a value's author only where it is not its participant's)."""
        return [[pid, *v] if len(v) == 6 else [pid, *v, author]
                for pid, author, values in page["participants"] for v in values]

    def pull_all(self, since=0):
        ops, conflicts, base = [], [], since
        while True:
            m, page = self.pull(since, base=base)
            assert page is not None, m
            ops += self.ops(page)
            conflicts += page["conflicts"]
            since, base = page["next"], page["base"]
            if not page["more"]:
                return ops, conflicts, since

    def register(self, numbers, kommune="0301", start="2026-01-15", per_changeset=1000):
        """New participants with these numbers (the four mandatory fields), pushed in
        change-sets; returns their ids. Raises if anything was not applied."""
        ids = []
        for i in range(0, len(numbers), per_changeset):
            changes = []
            for n in numbers[i:i + per_changeset]:
                pid, h = os.urandom(16).hex(), hlc_now()
                ids.append(pid)
                changes += [[pid, "fnr", "", n, h, 0], [pid, "startdato", "", start, h, 0],
                            [pid, "kommune", "", kommune, h, 0], [pid, "finansiering", "", "1", h, 0]]
            m, ack = self.push(changes)
            if not ack or {r[0] for r in ack["results"]} != {"applied"}:
                raise AssertionError(f"not applied: {m}")
        return ids

    def lookup(self, entries):
        """Asks about Folkeregister lookups: entries [[participant, fnr], ...].
        (message, opened states or None)"""
        self.send({"t": "lookup", "box": self.box("lookup", {"lookups": entries})})
        while True:
            m = self.recv()
            if m["t"] != "lookup_state" or m.get("id"):
                return m, (self.open(m)["states"] if m["t"] == "lookup_state" else None)

    def admin(self, op, **args):
        """(message, opened body or None) of an admin request."""
        self.send({"t": "admin", "box": self.box("admin", {"op": op, **args})})
        m = self.recv()
        return m, (self.open(m) if m["t"] == "admin_ok" else None)

    def close(self):
        self.ws.close()


def hlc_now(counter=0):
    return "%016x" % ((int(time.time() * 1000) << 16) | counter)
