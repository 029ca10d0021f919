"""The authorisation matrix at the protocol level (issue 5, must-show 1):
every message type a client can send × every role (and no login at all) ×
the user's own and another municipality, each cell asserting allow or deny
against the real jsr-server over a real WebSocket, with the independent
Python peer. A denied cell must also leave the store as it was.

The expected table below is written from DOMAIN.md §1, independently of
the server's role table (server/access.c)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from jsrpeer import Peer, hlc_now  # noqa: E402
from jsrserver import PASSWORD, Server, totp  # noqa: E402
from jsrtest import TempDirCase, generate  # noqa: E402

OWN, OTHER = "0301", "1103"
ROLES = {"ku": ("kommune_user", [OWN]), "ka": ("kommune_admin", [OWN]),
         "ia": ("imdi_admin", []), "an": ("imdi_analyst", [])}
ANON = "(ikke innlogget)"
Y, N = "allow", "deny"

# action -> {role: (own municipality, other municipality)}; None: no municipality involved
MATRIX = {
    "login":                  {"ku": Y, "ka": Y, "ia": Y, "an": Y},
    "auth (resume session)":  {"ku": Y, "ka": Y, "ia": Y, "an": Y, ANON: N},
    "push new participant":   {"ku": (Y, N), "ka": (Y, N), "ia": (N, N), "an": (N, N), ANON: (N, N)},
    "push edit participant":  {"ku": (Y, N), "ka": (Y, N), "ia": (N, N), "an": (N, N), ANON: (N, N)},
    "pull participant":       {"ku": (Y, N), "ka": (Y, N), "ia": (N, N), "an": (N, N), ANON: (N, N)},
    "lookup participant":     {"ku": (Y, N), "ka": (Y, N), "ia": (N, N), "an": (N, N), ANON: (N, N)},
    "admin invite kommune_user":  {"ku": (N, N), "ka": (Y, N), "ia": (Y, Y), "an": (N, N), ANON: (N, N)},
    "admin invite kommune_admin": {"ku": (N, N), "ka": (N, N), "ia": (Y, Y), "an": (N, N), ANON: (N, N)},
    "admin invite imdi_analyst":  {"ku": N, "ka": N, "ia": Y, "an": N, ANON: N},
    "admin resend":           {"ku": (N, N), "ka": (Y, N), "ia": (Y, Y), "an": (N, N), ANON: (N, N)},
    "admin deactivate":       {"ku": (N, N), "ka": (Y, N), "ia": (Y, Y), "an": (N, N), ANON: (N, N)},
    "admin users":            {"ku": (N, N), "ka": (Y, N), "ia": (Y, Y), "an": (N, N), ANON: (N, N)},
    "server-to-client types": {"ku": N, "ka": N, "ia": N, "an": N, ANON: N},
}
SERVER_ONLY = ["hello", "login_ok", "auth_ok", "push_ack", "changes", "notify", "error",
               "admin_ok", "wipe", "lookup_state"]


class Matrix(TempDirCase):
    def setUp(self):
        super().setUp()
        users = [(name, role, k) for name, (role, k) in ROLES.items()]
        users += [("seed_own", "kommune_user", [OWN]), ("seed_other", "kommune_user", [OTHER])]
        self.server = Server(self.tmp, users=users, config={"require_totp": 1})
        # invited users to resend to and deactivate, one per cell, made by the operator
        self.targets = {}
        for who in list(ROLES) + [ANON]:
            for k in (OWN, OTHER):
                for op in ("resend", "deactivate"):
                    mail = f"{op}.{k}.{len(self.targets)}@example.no"
                    self.server.cli("admin", "invite", "--name", "Test Testesen", "--email", mail,
                                    "--phone", "+47 900 00 000", "--role", "kommune_user",
                                    "--kommune", k, check=0)
                    self.targets[who, k, op] = str(self.server.sql(
                        f"SELECT id FROM users WHERE email = '{mail}'")[0][0])
        self.url = self.server.start()
        self.numbers = iter(generate(40, seed=23, gender="kvinne"))
        self.peers = {}
        for name in list(ROLES) + ["seed_own", "seed_other"]:
            p = Peer(self.url)
            body = p.login(name, PASSWORD, totp=totp(self.server.totp_secrets[name]))
            self.assertIn("session", body, f"{name}: {body}")
            self.peers[name] = p
        self.peers[ANON] = Peer(self.url)
        # one participant in each municipality, made by its own caseworker
        self.existing = {k: self.new_participant(self.peers["seed_" + s], k)
                         for k, s in ((OWN, "own"), (OTHER, "other"))}

    def tearDown(self):
        for p in self.peers.values():
            p.close()
        self.server.kill()
        super().tearDown()

    def new_participant(self, peer, kommune):
        pid = os.urandom(16).hex()
        h = hlc_now()
        m, ack = peer.push([[pid, "fnr", "", next(self.numbers), h, 0],
                            [pid, "startdato", "", "2026-01-15", h, 0],
                            [pid, "kommune", "", kommune, h, 0],
                            [pid, "finansiering", "", "1", h, 0]])
        return pid, m, ack

    def stored(self):
        return (self.server.sql("SELECT participant, field, value FROM field_value ORDER BY 1, 2"),
                self.server.sql("SELECT id, role, state, coalesce(username, '') FROM users ORDER BY id"),
                self.server.sql("SELECT id, user_id, state FROM invitation ORDER BY id"),
                self.server.sql("SELECT count(*) FROM mail"))

    def refused(self, m, codes=("denied", "auth")):
        return m["t"] == "error" and m["code"] in codes and bool(m["message"])

    # ---- one function per action: returns "allow" or "deny", and checks the outcome ----

    def do_login(self, who, _k):
        if who == ANON:
            return N
        p = Peer(self.url)
        # a fresh device with the same account: the code of the next step (this one was used)
        import time
        body = p.login(who, PASSWORD, totp=totp(self.server.totp_secrets[who], time.time() + 30))
        p.close()
        return Y if "session" in body else N

    def do_auth(self, who, _k):
        p = self.peers[who]
        q = Peer(self.url, device=p.device)
        m = q.auth(p.device.session) if p.device.session else q.auth("0" * 64)
        q.close()
        if m["t"] == "auth_ok":
            return Y
        self.assertTrue(self.refused(m), m)
        return N

    def push_outcome(self, m, ack, pid):
        if m["t"] == "push_ack":
            results = {r[0] for r in ack["results"]}
            # accepted (merged): applied, or the same value already there, or a recorded conflict
            if results and results <= {"applied", "superseded", "conflict"}:
                return Y
            self.assertEqual(results, {"rejected"}, ack)
            self.assertIn("kommune du ikke har tilgang til", ack["results"][0][3])
        else:
            self.assertTrue(self.refused(m), m)
        return N

    def do_push_new(self, who, k):
        pid, m, ack = self.new_participant(self.peers[who], k)
        return self.push_outcome(m, ack, pid)

    def do_push_edit(self, who, k):
        pid = self.existing[k][0]
        self.clock = max(getattr(self, "clock", 0) + 1, int(hlc_now(), 16))  # each edit the newest
        m, ack = self.peers[who].push([[pid, "malgruppe", "", "1", "%016x" % self.clock, 0]])
        return self.push_outcome(m, ack, pid)

    def do_pull(self, who, k):
        m, page = self.peers[who].pull(0)
        if m["t"] != "changes":
            self.assertTrue(self.refused(m), m)
            return N
        ops = self.peers[who].ops(page)
        while page["more"]:
            m, page = self.peers[who].pull(page["next"], base=page["base"])
            ops += self.peers[who].ops(page)
        return Y if self.existing[k][0] in {o[0] for o in ops} else N

    def do_lookup(self, who, k):
        pid = self.existing[k][0]
        fnr = self.server.sql(f"SELECT value FROM field_value WHERE participant = '{pid}' AND field = 'fnr'")[0][0]
        m, states = self.peers[who].lookup([[pid, fnr]])
        asked = self.server.sql(f"SELECT count(*) FROM audit WHERE action = 'lookup' AND actor = '{who}' "
                                f"AND participants LIKE '%{pid}%'")[0][0]
        if m["t"] != "lookup_state":
            self.assertTrue(self.refused(m), m)
            self.assertEqual(asked, 0)
            return N
        self.assertEqual(len(states), 1)
        # a participant of another municipality is not looked up for this user, and nothing is recorded
        allowed = states[0][2] in ("sendt", "henter", "hentet", "ikke_funnet")
        self.assertEqual(asked, 1 if allowed else 0)
        return Y if allowed else N

    def admin_outcome(self, m):
        if m["t"] == "admin_ok":
            return Y
        self.assertTrue(self.refused(m), m)
        return N

    def invite(self, who, k, role):
        args = {"name": "Ny Bruker", "email": f"ny.{who[:2]}.{role}.{k}@example.no",
                "phone": "+47 911 11 111", "role": role}
        if k:
            args["kommune"] = k
        return self.admin_outcome(self.peers[who].admin("invite", **args)[0])

    def do_invite_user(self, who, k):
        return self.invite(who, k, "kommune_user")

    def do_invite_admin(self, who, k):
        return self.invite(who, k, "kommune_admin")

    def do_invite_analyst(self, who, _k):
        return self.invite(who, None, "imdi_analyst")

    def do_resend(self, who, k):
        return self.admin_outcome(self.peers[who].admin("resend", user=self.targets[who, k, "resend"])[0])

    def do_deactivate(self, who, k):
        target = self.targets[who, k, "deactivate"]
        out = self.admin_outcome(self.peers[who].admin("deactivate", user=target)[0])
        state = self.server.sql(f"SELECT state FROM users WHERE id = {target}")[0][0]
        self.assertEqual(state, "deactivated" if out == Y else "invited")
        return out

    def do_users(self, who, k):
        m, body = self.peers[who].admin("users")
        if m["t"] != "admin_ok":
            self.assertTrue(self.refused(m), m)
            return N
        seen = {u["kommuner"] for u in body["users"]}
        return Y if k in seen else N

    def do_server_only(self, who, _k):
        p = self.peers[who]
        for t in SERVER_ONLY:
            p.send({"t": t, "box": "x"})
            m = p.recv()
            self.assertEqual((m["t"], m["code"]), ("error", "proto"), (t, m))
        return N

    def test_matrix(self):
        actions = {
            "login": self.do_login, "auth (resume session)": self.do_auth,
            "push new participant": self.do_push_new, "push edit participant": self.do_push_edit,
            "pull participant": self.do_pull, "lookup participant": self.do_lookup,
            "admin invite kommune_user": self.do_invite_user,
            "admin invite kommune_admin": self.do_invite_admin,
            "admin invite imdi_analyst": self.do_invite_analyst, "admin resend": self.do_resend,
            "admin deactivate": self.do_deactivate, "admin users": self.do_users,
            "server-to-client types": self.do_server_only,
        }
        self.assertEqual(set(actions), set(MATRIX))
        cells = 0
        for action, row in MATRIX.items():
            for who, want in row.items():
                scoped = isinstance(want, tuple)
                for k, expected in zip((OWN, OTHER), want) if scoped else [(None, want)]:
                    with self.subTest(action=action, role=who, kommune=k):
                        before = self.stored()
                        got = actions[action](who, k)
                        self.assertEqual(got, expected)
                        if expected == N:
                            self.assertEqual(before, self.stored(), "a denied request changed the store")
                        cells += 1
        self.assertGreaterEqual(cells, 100)
        # the server kept serving all along, and every decision left a sound audit chain
        self.assertEqual(self.server.cli("audit", "verify").returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
