"""jsr.v1 at the protocol level, with an independent peer (tests/pylib/
jsrpeer.py) against the real jsr-server: municipality scope, and every kind
of bad input — malformed JSON, wrong types, oversized and binary frames,
unknown types, tampered and forged boxes, replays, wrong keys. Each is
refused with a clear error, the server keeps serving, nothing stored changes.
(issue 4, must-show 5, 6 and 7)"""
import hashlib
import json
import os
import sys
import re
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrpeer import Closed, Device, Peer, WebSocket, hlc_now, seal, session_keys  # noqa: E402
from jsrserver import PASSWORD, Server  # noqa: E402
from jsrtest import TempDirCase, generate  # noqa: E402


def new_participant(fnr, kommune, pid=None, start="2026-01-15"):
    pid = pid or os.urandom(16).hex()
    h = hlc_now()
    return pid, [[pid, "fnr", "", fnr, h, 0], [pid, "startdato", "", start, h, 0],
                 [pid, "kommune", "", kommune, h, 0], [pid, "finansiering", "", "1", h, 0]]


class ProtocolCase(TempDirCase):
    config = {"max_message_bytes": 4 << 20}

    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, users=(("kari", "kommune_user", ["0301"]),
                                              ("per", "kommune_user", ["1103"]),
                                              ("ida", "imdi_analyst", [])),
                             config=self.config)
        self.url = self.server.start()
        self.numbers = iter(generate(30, seed=11, gender="kvinne"))

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def peer(self, user="kari", device=None):
        p = Peer(self.url, device=device)
        body = p.login(user, PASSWORD)
        self.assertIn("session", body, body)
        return p

    def stored(self):
        """Everything a refused message must leave as it was."""
        return (self.server.sql("SELECT participant, field, row, value, version FROM field_value "
                                "ORDER BY 1, 2, 3"),
                self.server.sql("SELECT device, seq, hash FROM changeset ORDER BY 1, 2"),
                self.server.sql("SELECT id, acked_seq FROM device ORDER BY 1"),
                self.server.sql("SELECT id, resolved FROM conflict ORDER BY 1"),
                self.server.sql("SELECT value FROM meta WHERE key = 'seq'"))

    def assert_error(self, msg, code, words=None):
        self.assertEqual(msg["t"], "error", msg)
        self.assertEqual(msg["code"], code, msg)
        self.assertTrue(msg["message"] and msg["detail"], msg)
        if words:
            self.assertIn(words, msg["message"])

    def assert_still_serving(self):
        p = self.peer("kari")
        m, page = p.pull(0)
        self.assertEqual(m["t"], "changes", m)
        p.close()


class Scope(ProtocolCase):
    def test_other_municipality(self):
        per = self.peer("per")
        pid_b, changes = new_participant(next(self.numbers), "1103")
        m, ack = per.push(changes)
        self.assertEqual([r[0] for r in ack["results"]], ["applied"] * 4)
        kari = self.peer("kari")
        pid_a, changes = new_participant(next(self.numbers), "0301")
        m, ack = kari.push(changes)
        self.assertEqual([r[0] for r in ack["results"]], ["applied"] * 4)
        # kari (on another device: a device's own writes are not sent back)
        # pulls nothing of 1103, and per nothing of 0301
        ops, conflicts, _ = self.peer("kari").pull_all(0)
        self.assertEqual({o[0] for o in ops}, {pid_a})
        ops, _, _ = self.peer("per").pull_all(0)
        self.assertEqual({o[0] for o in ops}, {pid_b})
        self.assertEqual(kari.pull_all(0)[0], [])
        before = self.stored()
        h = hlc_now(1)
        _, ack = kari.push([[pid_b, "malgruppe", "", "1", h, 0],        # 1103's participant
                            [pid_b, "kommune", "", "0301", h, 0]])      # or taking it over
        self.assertEqual([r[0] for r in ack["results"]], ["rejected", "rejected"])
        self.assertIn("kommune du ikke har tilgang til", ack["results"][0][3])
        _, changes = new_participant(next(self.numbers), "1103")
        _, ack = kari.push(changes)                                     # a new one in 1103
        self.assertEqual({r[0] for r in ack["results"]}, {"rejected"})
        _, ack = kari.push([[pid_a, "kommune", "", "1103", h, 0]])      # moving hers there
        self.assertEqual(ack["results"][0][0], "rejected")
        after = self.stored()
        self.assertEqual(before[0], after[0])  # no participant data changed
        self.assertEqual(before[3], after[3])

    def test_role_without_participant_access(self):
        ida = self.peer("ida")
        m, _ = ida.pull(0)
        self.assert_error(m, "denied")
        _, changes = new_participant(next(self.numbers), "0301")
        m, _ = ida.push(changes)
        self.assert_error(m, "denied")

    def test_not_logged_in(self):
        p = Peer(self.url)
        m, _ = p.pull(0)
        self.assert_error(m, "auth", "Logg inn")
        _, changes = new_participant(next(self.numbers), "0301")
        m, _ = p.push(changes)
        self.assert_error(m, "auth")


class BadInput(ProtocolCase):
    def test_malformed_messages(self):
        p = self.peer()
        before = self.stored()
        cases = [
            ("{not json", "proto", "ikke gyldig JSON"),
            ("[1, 2, 3]", "proto", "JSON-objekt"),
            ('"just a string"', "proto", "JSON-objekt"),
            ("{}", "proto", "mangler typen"),
            ('{"t": 5}', "proto", "mangler typen"),
            ('{"t": "frobnicate"}', "proto", "Ukjent meldingstype"),
            ('{"t": "pull", "id": -1, "since": 0}', "proto", "id"),
            ('{"t": "pull", "id": "x", "since": 0}', "proto", "id"),
            ('{"t": "pull", "since": "0"}', "proto", "since"),
            ('{"t": "pull", "since": -5}', "proto", "since"),
            ('{"t": "pull", "since": 1.5}', "proto", "since"),
            ('{"t": "pull", "since": 0, "limit": 999999}', "proto", "limit"),
            ('{"t": "pull", "since": 5, "base": 6}', "proto", "base"),
            ('{"t": "pull", "since": 5, "base": "1"}', "proto", "base"),
            ('{"t": "pull", "since": 5, "base": -1}', "proto", "base"),
            ('{"t": "push"}', "proto", "Endringssettet er ugyldig"),
            ('{"t": "push", "box": "x"}', "proto", None),
            ('{"t": "push", "box": {"h": 1, "n": 2, "c": 3, "s": 4}}', "proto", None),
            ('{"t": "hello"}', "proto", "kan ikke sendes til serveren"),
            ('{"t": "push_ack"}', "proto", None),
            ('{"t": "changes"}', "proto", None),
            ("[" * 5000 + "]" * 5000, "proto", None),
            ('{"t": "login", "box": {"h": "{}", "n": "", "c": "", "s": ""}}', "proto", None),
        ]
        for text, code, words in cases:
            p.ws.send_text(text)
            self.assert_error(p.recv(), code, words)
        # the connection still works, and nothing changed
        m, page = p.pull(0)
        self.assertEqual(m["t"], "changes")
        self.assertEqual(before, self.stored())

    def test_oversized_and_binary_frames(self):
        p = self.peer()
        q = self.peer()
        p.ws.send_frame(0x2, b"\x00\x01binary")
        self.assert_error(p.recv(), "proto", "tekstmeldinger")
        before = self.stored()
        big = json.dumps({"t": "pull", "since": 0, "pad": "x" * (5 << 20)})
        with self.assertRaises(Closed) as cm:
            p.ws.send_text(big)
            p.recv()
        self.assertEqual(cm.exception.code, 1009)
        # the same over many fragments is refused too
        with self.assertRaises((Closed, OSError)):
            chunk = "y" * 65536
            q.ws.send_frame(0x1, '{"t":"pull","pad":"', fin=False)
            for _ in range(80):
                q.ws.send_frame(0x0, chunk, fin=False)
            q.ws.send_frame(0x0, '"}', fin=True)
            q.recv()
        self.assertEqual(before, self.stored())
        self.assert_still_serving()

    def test_invalid_utf8_and_wrong_subprotocol(self):
        p = self.peer()
        with self.assertRaises((Closed, OSError)):
            p.ws.send_frame(0x1, b'{"t":"pull","since":0,"x":"\xff\xfe"}')
            p.recv()
        with self.assertRaises(Closed):
            WebSocket(self.url, protocol=None)
        with self.assertRaises(Closed):
            WebSocket(self.url, protocol="jsr.v1", path="/elsewhere")
        self.assert_still_serving()


class Boxes(ProtocolCase):
    def setUp(self):
        super().setUp()
        self.p = self.peer()
        pid, changes = new_participant(next(self.numbers), "0301")
        self.pid = pid
        m, ack = self.p.push(changes)
        self.assertEqual(m["t"], "push_ack")

    def change(self, value="2"):
        return [[self.pid, "malgruppe", "", value, hlc_now(5), 0]]

    def test_later_edit_on_the_older_base(self):
        """jsr numbers its outbox as the window allows, so an edit made while
        the change-set before it travels can go out on the base the device
        had then: the device's own earlier write is no conflict, and the
        later edit stands. Another device's write in between is one."""
        def now():
            return self.server.sql("SELECT value, version FROM field_value WHERE participant = '%s' "
                                   "AND field = 'malgruppe'" % self.pid)[0]

        def conflicts():
            return self.server.sql("SELECT count(*) FROM conflict WHERE participant = '%s'" % self.pid)[0][0]

        _, ack = self.p.push([[self.pid, "malgruppe", "", "2", hlc_now(1), 0]])
        self.assertEqual(ack["results"][0][0], "applied", ack)
        _, ack = self.p.push([[self.pid, "malgruppe", "", "3", hlc_now(2), 0]])  # base 0, as edited
        self.assertEqual(ack["results"][0][0], "applied", ack)
        self.assertEqual((now()[0], conflicts()), ("3", 0))
        q = self.peer()  # another device of the same caseworker, up to date
        _, ack = q.push([[self.pid, "malgruppe", "", "4", hlc_now(3), now()[1]]])
        self.assertEqual(ack["results"][0][0], "applied", ack)
        _, ack = self.p.push([[self.pid, "malgruppe", "", "1", hlc_now(4), 0]])  # made without seeing 4
        self.assertEqual(ack["results"][0][0], "conflict", ack)
        self.assertEqual(conflicts(), 1)

    def test_tampered_ciphertext(self):
        before = self.stored()
        box = self.p.box("changeset", self.p.changeset(self.change()), seq=2, n=1)
        c = bytearray(__import__("base64").b64decode(box["c"]))
        c[5] ^= 0x01
        box["c"] = __import__("base64").b64encode(bytes(c)).decode()
        m, _ = self.p.push(None, seq=2, box=box)
        self.assert_error(m, "crypto", "ikke lagret")
        self.assertEqual(before, self.stored())

    def test_altered_header(self):
        before = self.stored()
        box = self.p.box("changeset", self.p.changeset(self.change()), seq=2, n=1)
        box["h"] = box["h"].replace('"seq":2', '"seq":3')
        m, _ = self.p.push(None, seq=3, box=box)
        self.assert_error(m, "crypto")
        self.assertEqual(before, self.stored())

    def test_wrong_device_key(self):
        before = self.stored()
        stranger = Device()
        box = seal(self.p.tx, stranger.keys, json.dumps(
            {"k": "changeset", "dev": self.p.device.id, "seq": 2, "n": 1, "schema": 3}),
            json.dumps(self.p.changeset(self.change())))
        m, _ = self.p.push(None, seq=2, box=box)
        self.assert_error(m, "crypto")
        self.assertEqual(before, self.stored())

    def test_other_protocol_version(self):
        """A client of another protocol version is told so; nothing is stored."""
        before = self.stored()
        for schema in (1, 2, 4, None):
            box = self.p.box("changeset", self.p.changeset(self.change()), seq=2, n=1,
                             **({"schema": schema} if schema else {"schema": "3"}))
            m, _ = self.p.push(None, seq=2, box=box)
            self.assert_error(m, "proto", "protokollversjon")
        self.assertEqual(before, self.stored())
        m, ack = self.p.push(self.change())  # the same change-set in this version goes through
        self.assertEqual([r[0] for r in ack["results"]], ["applied"])

    def test_other_device_in_header(self):
        other = self.peer()
        before = self.stored()
        box = self.p.box("changeset", self.p.changeset(self.change()), seq=1, n=1)
        box_json = json.loads(box["h"])
        box_json["dev"] = other.device.id
        forged = seal(self.p.tx, self.p.device.keys, json.dumps(box_json),
                      json.dumps(self.p.changeset(self.change())))
        m, _ = self.p.push(None, seq=1, box=forged)
        self.assert_error(m, "denied", "annen maskin")
        self.assertEqual(before, self.stored())

    def test_replayed_changeset(self):
        c3 = self.change("3")
        box = self.p.box("changeset", self.p.changeset(c3), seq=2, n=1)
        m, ack = self.p.push(None, seq=2, box=box)
        self.assertEqual(ack["results"][0][0], "applied")
        before = self.stored()
        # the very same box again: acknowledged again, applied once
        m, ack2 = self.p.push(None, seq=2, box=box)
        self.assertEqual(ack2, ack)
        # a re-send (new nonce) with the same content: the same
        self.assertEqual(before, self.stored())
        # the same changes in another form (as a jsr of another version may write
        # them): the same change-set, acknowledged again, applied once
        other_form = json.dumps(self.p.changeset(c3), indent=2)
        m, ack3 = self.p.push(None, seq=2, box=self.p.box("changeset", other_form, seq=2, n=1))
        self.assertEqual(ack3, ack)
        self.assertEqual(before, self.stored())
        # acknowledged by a server of protocol version 2, which kept the hash of
        # the body as jsr of that version wrote it: known when sent again after the
        # update; with the hash of other content, refused
        def v2_kept(changes):
            body = json.dumps({"changes": changes}, separators=(",", ":"), ensure_ascii=False).encode()
            self.server.sql(f"UPDATE changeset SET hash = x'{hashlib.blake2b(body, digest_size=32).hexdigest()}' "
                            f"WHERE device = '{self.p.device.id}' AND seq = 2")
            return self.stored()
        before = v2_kept(c3)
        m, ack4 = self.p.push(None, seq=2, box=self.p.box("changeset", self.p.changeset(c3), seq=2, n=1))
        self.assertEqual(ack4, ack)
        self.assertEqual(before, self.stored())
        before = v2_kept(self.change("4"))
        m, _ = self.p.push(None, seq=2, box=self.p.box("changeset", self.p.changeset(c3), seq=2, n=1))
        self.assert_error(m, "conflict", "annet innhold")
        self.assertEqual(before, self.stored())
        # the same number with other content: refused
        m, _ = self.p.push(self.change("5"), seq=2)
        self.assert_error(m, "conflict", "annet innhold")
        self.assertEqual(before, self.stored())
        # a gap in the numbers: refused
        m, _ = self.p.push(self.change("5"), seq=9)
        self.assert_error(m, "proto", "feil rekkefølge")
        self.assertEqual(before, self.stored())

    def test_replayed_auth_on_new_connection(self):
        q = Peer(self.url, device=self.p.device)
        old = q.box("auth", {"session": self.p.device.session}, challenge=self.p.hello["challenge"])
        q.send({"t": "auth", "box": old})
        self.assert_error(q.recv(), "auth", "utdatert")
        # with this connection's challenge it works
        self.assertEqual(q.auth()["t"], "auth_ok")

    def test_malformed_bodies(self):
        before = self.stored()
        h = hlc_now(9)
        one = lambda *change: {"participants": [[self.pid, [list(change)]]]}
        bodies = [
            {"participants": []},
            {"participants": "x"},
            {"nothing": 1},
            {"changes": [[self.pid, "malgruppe", "", "1", h, 0]]},            # protocol version 2's body
            {"participants": [[self.pid, []]]},                               # a participant without changes
            {"participants": [[self.pid, [["malgruppe", "", "1", h, 0]], 1]]},
            {"participants": [["not-an-id", [["malgruppe", "", "1", h, 0]]]]},
            one("malgruppe", "", "1", h),                                     # 4 elements
            one(self.pid, "malgruppe", "", "1", h, 0),                        # 6: the participant again
            one("no_such_field", "", "1", h, 0),
            one("malgruppe", "ab" * 16, "1", h, 0),                           # row on a single field
            one("tiltak.type", "", "1", h, 0),                                # no row on a Tiltak field
            one("malgruppe", "", "1", "nothex", 0),
            one("malgruppe", "", "1", h, -1),
            one("malgruppe", "", "x" * 2000, h, 0),
            one("malgruppe", "", 1, h, 0),
            {"participants": [[self.pid, [["malgruppe", "", "1", h, 0]] * 5001]] * 2},  # 10,002 in all
        ]
        for body in bodies:
            box = self.p.box("changeset", body, seq=2, n=1)
            m, _ = self.p.push(None, seq=2, box=box)
            self.assert_error(m, "proto")
        not_json = self.p.box("changeset", "this is not json", seq=2, n=1)
        m, _ = self.p.push(None, seq=2, box=not_json)
        self.assert_error(m, "proto")
        self.assertEqual(before, self.stored())
        self.assert_still_serving()

    def test_invalid_values_rejected_per_change(self):
        """Well-formed but wrong values: a result per change, the rest applied."""
        h = hlc_now(11)
        m, ack = self.p.push([[self.pid, "malgruppe", "", "77", h, 0],
                              [self.pid, "startdato", "", "2026-02-30", h, 0],
                              [self.pid, "navn", "", "Kari", h, 0],
                              [self.pid, "fnr", "", "12345678901", h, 0],
                              [self.pid, "fodeland", "", "SWE", h, 0]])
        codes = [r[0] for r in ack["results"]]
        self.assertEqual(codes, ["rejected"] * 4 + ["applied"])
        reasons = [r[3] for r in ack["results"][:4]]
        self.assertIn("ikke en kode", reasons[0])
        self.assertIn("gyldig dato", reasons[1])
        self.assertIn("serveren", reasons[2])
        self.assertIn("Fødselsnummeret", reasons[3])

    def test_clock_far_ahead(self):
        far = "%016x" % ((int(time.time() * 1000) + 3600_000) << 16)
        m, ack = self.p.push([[self.pid, "malgruppe", "", "3", far, 0]])
        self.assertEqual(ack["results"][0][0], "rejected")
        self.assertIn("Klokken", ack["results"][0][3])

    def test_login_bad_credentials_and_keys(self):
        q = Peer(self.url)
        m = q.login("kari", "wrong-password-123")
        self.assert_error(m, "auth", "Innloggingen mislyktes")
        q = Peer(self.url)
        self.assert_error(q.login("nobody", "x" * 20), "auth", "Innloggingen mislyktes")
        # the same device id with other keys is refused
        twin = Device()
        twin.id = self.p.device.id
        q = Peer(self.url, device=twin)
        self.assert_error(q.login("kari", PASSWORD), "denied")
        # auth with a made-up session
        q = Peer(self.url, device=self.p.device)
        self.assert_error(q.auth("0" * 64), "auth")


class Authors(ProtocolCase):
    def test_each_value_with_its_author(self):
        """A page names a participant's author once and a value's own only where
        it differs: every value still arrives with the one who wrote it."""
        self.server.add_user("ola", "kommune_user", ["0301"])
        kari, ola = self.peer("kari"), self.peer("ola")
        pid, changes = new_participant(next(self.numbers), "0301")
        m, ack = kari.push(changes)
        self.assertEqual([r[0] for r in ack["results"]], ["applied"] * 4, ack)
        m, ack = ola.push([[pid, "malgruppe", "", "2", hlc_now(1), 0]])
        self.assertEqual(ack["results"][0][0], "applied", ack)
        m, page = self.peer("kari").pull(0)
        [(got_pid, author, values)] = page["participants"]
        self.assertEqual((got_pid, author), (pid, "kari"))
        self.assertEqual({v[0]: v[5:] for v in values},
                         {"fnr": [], "startdato": [], "kommune": [], "finansiering": [], "malgruppe": ["ola"]})
        ops, _, _ = self.peer("kari").pull_all()
        self.assertEqual(sorted((op[1], op[6]) for op in ops),
                         [("finansiering", "kari"), ("fnr", "kari"), ("kommune", "kari"),
                          ("malgruppe", "ola"), ("startdato", "kari")])


class ReadAhead(ProtocolCase):
    """While a device stores a page, the server reads the next one ahead; it
    is sent only if it is what a read at the request gives: the same cursor
    and nothing written since. Pages of one participant (four values)."""
    config = {"max_message_bytes": 4 << 20, "pull_page_limit": 4}

    def setUp(self):
        super().setUp()
        self.writer = self.peer("kari")
        self.ids = self.writer.register([next(self.numbers) for _ in range(3)])

    def read_ahead(self):
        base = self.url.replace("ws://", "http://").replace("/sync", "")
        with urllib.request.urlopen(base + "/metrics") as r:
            return int(re.search(r"^jsr_pull_pages_read_ahead_total (\d+)$", r.read().decode(), re.M).group(1))

    def pull_after(self, peer, page):
        time.sleep(0.3)  # the worker is idle: the next page is read by now
        return peer.pull(page["next"], base=page["base"])[1]

    def test_read_ahead_page_is_the_page(self):
        p = self.peer("kari")
        before = self.read_ahead()
        first = p.pull(0)[1]
        self.assertTrue(first["more"], first)
        second = self.pull_after(p, first)
        self.assertEqual(self.read_ahead(), before + 1)
        # what a device asking afresh for the same page gets
        fresh = self.peer("kari").pull(first["next"], base=first["base"])[1]
        for k in ("participants", "conflicts", "next", "base", "more"):
            self.assertEqual(second[k], fresh[k], k)
        self.assertEqual(len({pid for pid, *_ in first["participants"] + second["participants"]}), 2)

    def test_write_between_pages(self):
        p = self.peer("kari")
        first = p.pull(0)[1]
        time.sleep(0.3)  # the second page is read ahead ...
        before = self.read_ahead()
        # ... and then a participant of it changes: the page read ahead is not sent
        second_id = [pid for pid in self.ids if pid != first["participants"][0][0]][0]
        m, ack = self.writer.push([[second_id, "malgruppe", "", "2", hlc_now(), 0]])
        self.assertEqual(ack["results"][0][0], "applied", m)
        second = p.pull(first["next"], base=first["base"])[1]
        self.assertEqual(self.read_ahead(), before)
        seen, page = [], second
        while True:
            seen += Peer.ops(page)
            if not page["more"]:
                break
            page = p.pull(page["next"], base=page["base"])[1]
        self.assertIn([second_id, "malgruppe", "", "2"], [op[:4] for op in seen])
        self.assertEqual({op[0] for op in seen} | {first["participants"][0][0]}, set(self.ids))

    def test_other_device_on_the_connection(self):
        """A page read ahead is the device's own (a device's own writes stay
        out of its pages): another device logged in on the connection reads afresh."""
        p = self.peer("kari")
        first = p.pull(0)[1]
        time.sleep(0.3)
        before = self.read_ahead()
        p.device = Device()
        p.rx, p.tx = session_keys(p.device.keys, p.server_kx)
        self.assertIn("session", p.login("kari", PASSWORD))
        second = p.pull(first["next"], base=first["base"])[1]
        self.assertEqual(self.read_ahead(), before)
        self.assertTrue(second["participants"])

    def test_other_cursor(self):
        p = self.peer("kari")
        first = p.pull(0)[1]
        time.sleep(0.3)
        before = self.read_ahead()
        again = p.pull(0)[1]  # the first page again (a device that lost it): read afresh
        self.assertEqual(self.read_ahead(), before)
        self.assertEqual(again["participants"], first["participants"])


class Expiry(ProtocolCase):
    config = {"session_ttl_s": 2}

    def test_session_expires_mid_connection(self):
        p = self.peer()
        pid, changes = new_participant(next(self.numbers), "0301")
        m, ack = p.push(changes)
        self.assertEqual(m["t"], "push_ack")
        time.sleep(2.3)
        before = self.stored()
        m, _ = p.push([[pid, "malgruppe", "", "1", hlc_now(), 0]])
        self.assert_error(m, "auth", "utløpt")
        m, _ = p.pull(0)
        self.assert_error(m, "auth")
        self.assertEqual(before, self.stored())


if __name__ == "__main__":
    unittest.main(verbosity=2)
