"""Invitations end to end (issue 5): an administrator invites from the
client, the e-mail lands in the spool folder as an .eml file, the
activation page is fetched and posted over real HTTP, the second factor is
enrolled, and the new user logs in from a client. Expiry, reuse, resend,
wrong codes, lockout, and bad input on the page."""
import email
import email.policy
import glob
import html
import os
import re
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrserver import PASSWORD, Client, Server, totp  # noqa: E402
from jsrtest import TempDirCase  # noqa: E402

NEW_PASSWORD = "Sommerfugl-over-Mjøsa-42"


def http(url, data=None, content_type="application/x-www-form-urlencoded"):
    """(status, body) of a GET, or of a POST of a dict (or raw bytes)."""
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=data)
    if data is not None and content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), dict(e.headers)


class InviteCase(TempDirCase):
    config = {"require_totp": 1}

    def setUp(self):
        super().setUp()
        self.server = Server(self.tmp, users=(), config=self.config)
        self.anne_secret = self.server.add_user("anne", "kommune_admin", ["0301"])
        self.server.start()
        self.spool = os.path.join(self.server.dir, "mail-spool")
        self.anne = Client(self.tmp, "anne", self.server, user="anne")
        self.anne.login(totp=totp(self.anne_secret))
        self.base = self.server.url.replace("ws://", "http://").replace("/sync", "")

    def tearDown(self):
        self.server.kill()
        super().tearDown()

    def mails(self, n, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            files = sorted(glob.glob(os.path.join(self.spool, "*.eml")),
                           key=lambda f: int(os.path.basename(f).split(".")[0]))
            if len(files) >= n:
                return files
            time.sleep(0.1)
        self.fail(f"expected {n} e-mails in {self.spool}")

    def link_of(self, path):
        raw = open(path, "rb").read()
        self.assertIn(b"\r\n\r\n", raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_content()
        return msg, body, re.search(r"(http://\S+/aktiver\?token=[0-9a-f]{64})", body).group(1)

    def invite(self, name="Kari Nordmann", mail="kari@example.no"):
        self.anne.jsr("admin", "invite", "--name", name, "--email", mail, "--phone", "+47 912 34 567",
                      check=0)

    def activate(self, link, username="kari", password=NEW_PASSWORD):
        token = link.split("token=")[1]
        st, page, _ = http(link)
        self.assertEqual(st, 200, page)
        st, page, _ = http(self.base + "/aktiver", {"token": token, "username": username,
                                                     "password": password, "password2": password})
        self.assertEqual(st, 200, page)
        secret = re.search(r"secret=([A-Z2-7]{32})", page).group(1)
        st, page, _ = http(self.base + "/aktiver/totp", {"token": token, "code": totp(secret)})
        self.assertEqual(st, 200, page)
        self.assertIn("Ferdig!", page)
        return secret


class Flow(InviteCase):
    def test_whole_flow(self):
        self.invite()
        msg, body, link = self.link_of(self.mails(1)[0])
        self.assertEqual(msg["To"], "kari@example.no")
        self.assertEqual(msg["Subject"], "Invitasjon til Jobbsjansen-registeret")
        self.assertIn("text/plain", msg["Content-Type"])
        self.assertIn("Hei Kari Nordmann", body)
        self.assertIn("kommunebruker", body)
        self.assertIn("Oslo kommune", body)
        self.assertIn("kan brukes én gang", body)
        users = self.anne.json("admin", "users")
        kari = [u for u in users if u["email"] == "kari@example.no"][0]
        self.assertEqual((kari["state"], kari["invitation"], kari["username"]), ("invited", "open", ""))

        token = link.split("token=")[1]
        st, page, headers = http(link)
        self.assertEqual(st, 200)
        self.assertIn("Aktiver brukeren din", page)
        self.assertIn("default-src 'none'", headers.get("content-security-policy", ""))
        self.assertEqual(headers.get("referrer-policy"), "no-referrer")
        # a weak password is refused with the reason; nothing stored
        st, page, _ = http(self.base + "/aktiver", {"token": token, "username": "kari",
                                                     "password": "password123456",
                                                     "password2": "password123456"})
        self.assertEqual(st, 400)
        self.assertIn("for lett å gjette", html.unescape(page))
        for bad, words in (("kort", "minst 12 tegn"), ("kari", "minst 12 tegn"),
                           ("kari@example.no", "e-postadressen")):
            st, page, _ = http(self.base + "/aktiver", {"token": token, "username": "kari",
                                                         "password": bad, "password2": bad})
            self.assertEqual(st, 400)
        st, page, _ = http(self.base + "/aktiver", {"token": token, "username": "kari",
                                                     "password": NEW_PASSWORD, "password2": "annet"})
        self.assertIn("ikke like", page)
        st, page, _ = http(self.base + "/aktiver", {"token": token, "username": "Kari Nordmann!",
                                                     "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
        self.assertIn("Brukernavnet må ha", page)
        self.assertEqual(self.server.sql("SELECT username FROM users WHERE email = 'kari@example.no'"),
                         [(None,)])
        # the right ones: on to the second factor
        st, page, _ = http(self.base + "/aktiver", {"token": token, "username": "kari",
                                                     "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
        self.assertEqual(st, 200)
        self.assertIn("<svg", page)
        uri = html.unescape(re.search(r'href="(otpauth://[^"]+)"', page).group(1))
        self.assertTrue(uri.startswith("otpauth://totp/Jobbsjansen:kari?secret="))
        secret = re.search(r"secret=([A-Z2-7]{32})", uri).group(1)
        # reloading the link resumes at the second step
        st, page, _ = http(link)
        self.assertIn("Sett opp innlogging med mobilen", page)
        # a wrong code
        st, page, _ = http(self.base + "/aktiver/totp", {"token": token, "code": "000000"})
        self.assertEqual(st, 400)
        self.assertIn("Koden stemmer ikke", page)
        st, page, _ = http(self.base + "/aktiver/totp", {"token": token, "code": totp(secret)})
        self.assertEqual((st, "Ferdig!" in page), (200, True))
        # used: the link is done
        st, page, _ = http(link)
        self.assertEqual(st, 410)
        self.assertIn("allerede brukt", page)
        # log in from a client with the second factor and sync
        c = Client(self.tmp, "kari", self.server, user="kari", password=NEW_PASSWORD)
        p = c.login(check=1, totp="123456" if totp(secret) != "123456" else "654321")
        self.assertIn("Innloggingen mislyktes", p.stderr)
        # the code just used for enrolment may not be replayed; the next step's code is
        # inside the accepted window (one step of clock drift either way)
        c.login(totp=totp(secret, time.time() + 30))
        c.sync()
        kari = [u for u in self.anne.json("admin", "users") if u["email"] == "kari@example.no"][0]
        self.assertEqual((kari["state"], kari["username"]), ("active", "kari"))

    def test_resend_voids_old_link(self):
        self.invite(mail="ola@example.no")
        _, _, old = self.link_of(self.mails(1)[0])
        self.anne.jsr("admin", "resend", str(self.user_id("ola@example.no")), check=0)
        _, _, new = self.link_of(self.mails(2)[1])
        self.assertNotEqual(old, new)
        st, page, _ = http(old)
        self.assertEqual(st, 410)
        self.assertIn("erstattet av en nyere invitasjon", page)
        self.activate(new, username="ola")

    def test_unknown_link(self):
        st, page, _ = http(self.base + "/aktiver?token=" + "ab" * 32)
        self.assertEqual(st, 404)
        self.assertIn("Lenken er ugyldig", page)
        st, page, _ = http(self.base + "/aktiver?token=<script>")
        self.assertEqual(st, 404)
        self.assertNotIn("<script>", page)

    def test_permissions(self):
        # a kommune_admin invites only kommune users to their own municipality
        p = self.anne.jsr("admin", "invite", "--name", "X", "--email", "x@example.no", "--phone",
                          "91234567", "--kommune", "1103", check=1)
        self.assertIn("din egen kommune", p.stderr)
        p = self.anne.jsr("admin", "invite", "--name", "X", "--email", "x@example.no", "--phone",
                          "91234567", "--role", "kommune_admin", check=1)
        self.assertIn("bare invitere kommunebrukere", p.stderr)
        for args, words in ((["--email", "not-an-address"], "e-postadresse"),
                            (["--email", "a@b.no", "--phone", "12"], "telefonnummer")):
            full = ["admin", "invite", "--name", "X", "--email", "x@example.no", "--phone", "91234567"]
            for k, v in zip(args[::2], args[1::2]):
                full[full.index(k) + 1] = v
            p = self.anne.jsr(*full, check=1)
            self.assertIn(words, p.stderr)

    def user_id(self, mail):
        return [u for u in self.anne.json("admin", "users") if u["email"] == mail][0]["id"]


class BadInput(InviteCase):
    def test_activation_page_bad_input(self):
        self.invite(name='Kari <script>alert(1)</script> "Nord"', mail="k2@example.no")
        msg, body, link = self.link_of(self.mails(1)[0])
        self.assertIn("text/plain", msg["Content-Type"])  # inert text, whatever the name holds
        token = link.split("token=")[1]
        st, page, _ = http(link)
        self.assertEqual(st, 200)
        self.assertNotIn("<script>", page)
        self.assertIn("&lt;script&gt;", page)
        before = self.server.sql("SELECT username, pwhash, totp_secret, state FROM users ORDER BY id")
        # wrong content type
        st, page, _ = http(self.base + "/aktiver", data=b'{"token": "x"}', content_type="application/json")
        self.assertEqual(st, 415)
        self.assertIn("vanlige nettskjemaer", page)
        # missing fields
        st, page, _ = http(self.base + "/aktiver", {"token": token})
        self.assertEqual(st, 400)
        self.assertIn("Fyll ut", page)
        st, page, _ = http(self.base + "/aktiver", {"username": "x"})
        self.assertEqual(st, 400)
        # a huge body
        st, page, _ = http(self.base + "/aktiver", data=b"token=" + b"a" * (1 << 20))
        self.assertEqual(st, 413)
        # HTML in the username is refused and shown escaped
        st, page, _ = http(self.base + "/aktiver", {"token": token, "username": "<b>x</b>",
                                                     "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
        self.assertEqual(st, 400)
        self.assertNotIn("<b>x</b>", page)
        # broken percent-encoding, non-UTF-8
        st, page, _ = http(self.base + "/aktiver", data=b"token=" + token.encode() + b"&username=%ZZ")
        self.assertEqual(st, 400)
        st, page, _ = http(self.base + "/aktiver", data=b"token=" + token.encode() +
                           b"&username=%FF%FE&password=x&password2=x")
        self.assertEqual(st, 400)
        self.assertNotIn("\ufffd", page)  # nothing half-decoded echoed back
        self.assertEqual(before, self.server.sql(
            "SELECT username, pwhash, totp_secret, state FROM users ORDER BY id"))


class Expiry(InviteCase):
    config = {"require_totp": 1, "invite_ttl_s": 2}

    def test_expired_link(self):
        self.invite(mail="late@example.no")
        _, _, link = self.link_of(self.mails(1)[0])
        time.sleep(2.5)
        st, page, _ = http(link)
        self.assertEqual(st, 410)
        self.assertIn("Lenken er utløpt", page)
        users = self.anne.json("admin", "users")
        self.assertEqual([u["invitation"] for u in users if u["email"] == "late@example.no"], ["expired"])
        st, _, _ = http(self.base + "/aktiver", {"token": link.split("token=")[1], "username": "late",
                                                  "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
        self.assertEqual(st, 410)


class Lockout(InviteCase):
    config = {"require_totp": 1, "lockout_threshold": 3, "lockout_base_s": 2}

    def test_lockout_after_failures(self):
        c = Client(self.tmp, "x", self.server, user="anne", password="feil-passord-for-anne")
        for _ in range(3):
            p = c.login(check=1, totp=totp(self.anne_secret))
            self.assertIn("Innloggingen mislyktes", p.stderr)
        # locked: even the right password fails, with the same message
        good = Client(self.tmp, "y", self.server, user="anne")
        p = good.login(check=1, totp=totp(self.anne_secret))
        self.assertIn("Innloggingen mislyktes", p.stderr)
        # unknown users get the same answer
        p = Client(self.tmp, "z", self.server, user="ingen_slik").login(check=1, totp="123456")
        self.assertIn("Innloggingen mislyktes", p.stderr)
        time.sleep(2.5)
        # after the lock the right password and a fresh code work at once: the refused
        # attempts during the lock did not lengthen it
        p = good.login(check=None, totp=totp(self.anne_secret, time.time() + 30))
        self.assertEqual(p.returncode, 0, p.stderr)
        failed = self.server.sql("SELECT count(*) FROM audit WHERE action = 'login_failed'")[0][0]
        self.assertGreaterEqual(failed, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
