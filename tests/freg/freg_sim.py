#!/usr/bin/env python3
"""A Folkeregister simulator for the tests: the Skatteetaten person API shape
(GET /folkeregisteret/offentlig-med-hjemmel/api/v1/personer/{nr}?part=...,
Authorization: Bearer TOKEN, versioned lists with erGjeldende) served from
the same synthetic register file jsr-server's local backend reads.

Faults, each a probability per request (0..1), set at start or at run time:
  latency_ms (fixed) + jitter_ms (uniform extra), p500, p429 (Retry-After:
  retry_after_s), p_timeout (the answer never comes), p_reset (the
  connection is cut), and malformed answers: p_bad_json, p_missing,
  p_two_current, p_huge, p_wrong_type. auth_fail = true answers 401 to all.
Every request is counted and logged (monotonic arrival time, number, status).

Control (same port, no token): GET /_sim/stats, POST /_sim/config (JSON),
POST /_sim/reset. Runs on asyncio; prints "freg-sim: PORT" when ready.
"""
import argparse
import asyncio
import csv
import json
import random
import sys
import time

PREFIX = "/folkeregisteret/offentlig-med-hjemmel/api/v1/personer/"


class Sim:
    def __init__(self, register, token, seed):
        self.people = {}
        with open(register, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter=";"):
                self.people[row["fnr"]] = row
        self.token = token
        self.rng = random.Random(seed)
        self.cfg = dict(latency_ms=0, jitter_ms=0, p500=0.0, p429=0.0, retry_after_s=1, p_timeout=0.0,
                        p_reset=0.0, p_bad_json=0.0, p_missing=0.0, p_two_current=0.0, p_huge=0.0,
                        p_wrong_type=0.0, p400=0.0, auth_fail=False)
        self.reset()

    def reset(self):
        self.log = []          # [t_mono, fnr, status]
        self.counts = {}
        self.ok_by_fnr = {}

    def person_json(self, p, two_current=False, missing=False):
        navn = {"erGjeldende": True, "fornavn": p["fornavn"], "etternavn": p["etternavn"],
                "ajourholdstidspunkt": "2020-01-01T00:00:00Z", "kilde": "synt"}
        if p["mellomnavn"]:
            navn["mellomnavn"] = p["mellomnavn"]
        old = {"erGjeldende": two_current, "fornavn": "Tidligere", "etternavn": p["etternavn"],
               "ajourholdstidspunkt": "2001-01-01T00:00:00Z"}
        body = {"identifikasjonsnummer": [{"erGjeldende": True, "foedselsEllerDNummer": p["fnr"]}],
                "navn": [old, navn],
                "kjoenn": [{"erGjeldende": True, "kjoenn": p["kjoenn"]}],
                "status": [{"erGjeldende": True, "status": p["status"]}]}
        if missing:
            del body["navn"]
        return json.dumps(body, ensure_ascii=False).encode()

    def chance(self, key):
        return self.rng.random() < float(self.cfg[key])

    def answer(self, path, headers):
        """(status, content type, body bytes, extra headers) or a fault name."""
        nr = path[len(PREFIX):].split("?")[0]
        if headers.get("authorization") != "Bearer " + self.token or self.cfg["auth_fail"]:
            return 401, "application/json", b'{"kode":"FREG-401","melding":"Ugyldig token"}', {}
        if self.chance("p_reset"):
            return "reset"
        if self.chance("p_timeout"):
            return "timeout"
        if self.chance("p429"):
            return 429, "application/json", b'{"kode":"FREG-429","melding":"For mange kall"}', \
                {"Retry-After": str(self.cfg["retry_after_s"])}
        if self.chance("p500"):
            return 500, "application/json", b'{"kode":"FREG-500","melding":"Intern feil"}', {}
        if len(nr) != 11 or not nr.isdigit() or self.chance("p400"):
            return 400, "application/json", b'{"kode":"FREG-001","melding":"Ugyldig identifikator"}', {}
        p = self.people.get(nr)
        if not p:
            return 404, "application/json", b'{"kode":"FREG-404","melding":"Fant ikke personen"}', {}
        if self.chance("p_bad_json"):
            return 200, "application/json", b'{"navn": [{"erGjeldende": true, "fornavn": ', {}
        if self.chance("p_missing"):
            return 200, "application/json", self.person_json(p, missing=True), {}
        if self.chance("p_two_current"):
            return 200, "application/json", self.person_json(p, two_current=True), {}
        if self.chance("p_huge"):
            return 200, "application/json", b'{"x":"' + b"a" * (2 << 20) + b'"}', {}
        if self.chance("p_wrong_type"):
            return 200, "text/html", b"<html><body>Vedlikehold</body></html>", {}
        return 200, "application/json", self.person_json(p), {}


async def read_request(reader):
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return method, target, headers, body


def response(status, ctype, body, extra=None, keep=True):
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "X")
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
            "Connection: " + ("keep-alive" if keep else "close")]
    for k, v in (extra or {}).items():
        head.append(f"{k}: {v}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def handle(sim, reader, writer):
    try:
        while True:
            req = await read_request(reader)
            if req is None:
                break
            method, target, headers, body = req
            keep = headers.get("connection", "").lower() != "close"
            if target.startswith("/_sim/"):
                if target == "/_sim/stats":
                    out = json.dumps({"counts": sim.counts, "log": sim.log, "ok_by_fnr": sim.ok_by_fnr}).encode()
                elif target == "/_sim/config" and method == "POST":
                    sim.cfg.update(json.loads(body or b"{}"))
                    out = json.dumps(sim.cfg).encode()
                elif target == "/_sim/reset" and method == "POST":
                    sim.reset()
                    out = b"{}"
                else:
                    writer.write(response(404, "text/plain", b"?", keep=False))
                    break
                writer.write(response(200, "application/json", out, keep=keep))
                await writer.drain()
                if not keep:
                    break
                continue
            t = time.monotonic()
            nr = target[len(PREFIX):].split("?")[0] if target.startswith(PREFIX) else ""
            if not target.startswith(PREFIX) or method != "GET":
                ans = (404, "application/json", b'{"kode":"FREG-404","melding":"Ukjent sti"}', {})
            else:
                ans = sim.answer(target, headers)
            status = ans if isinstance(ans, str) else ans[0]
            sim.log.append([t, nr, status])
            sim.counts[str(status)] = sim.counts.get(str(status), 0) + 1
            if status == 200 and not isinstance(ans, str) and ans[1] == "application/json":
                sim.ok_by_fnr[nr] = sim.ok_by_fnr.get(nr, 0) + 1
            delay = (sim.cfg["latency_ms"] + sim.rng.random() * sim.cfg["jitter_ms"]) / 1000.0
            if delay:
                await asyncio.sleep(delay)
            if ans == "reset":
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    import socket
                    import struct
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.close()
                return
            if ans == "timeout":
                await asyncio.sleep(3600)
                return
            writer.write(response(*ans, keep=keep))
            await writer.drain()
            if not keep:
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--register", required=True)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default="{}", help="initial faults as JSON")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    a = ap.parse_args()
    sim = Sim(a.register, a.token, a.seed)
    sim.cfg.update(json.loads(a.config))
    ssl_ctx = None
    if a.tls:
        import ssl
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(a.tls[0], a.tls[1])
    server = await asyncio.start_server(lambda r, w: handle(sim, r, w), "127.0.0.1", a.port, backlog=1024,
                                        ssl=ssl_ctx)
    print("freg-sim: %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
