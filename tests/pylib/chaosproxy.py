"""A TCP proxy for tests: forwards 127.0.0.1:port to an upstream port,
delays traffic and cuts connections at random byte offsets. `offline`
refuses everything (a laptop without network); `tamper_pages` alters one
character of the ciphertext of that many pull pages on their way to the
client, after letting `skip_pages` through (`unbox` renames the page's
"box" instead, `garble` makes the message invalid JSON); `break_pulls` makes that many of the client's pull requests
invalid (a negative "since"), after letting `skip_pulls` through, so that
the server answers with an error."""
import random
import select
import socket
import threading
import time


class ChaosProxy:
    def __init__(self, upstream_port, seed=1, cut_probability=0.5, max_cut=96 * 1024,
                 max_delay=0.02):
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.cut_probability, self.max_cut, self.max_delay = cut_probability, max_cut, max_delay
        self.chaos = True
        self.offline = False
        self.tamper_pages = self.skip_pages = 0
        self.unbox = self.garble = False
        self.break_pulls = self.skip_pulls = 0
        self.cuts = 0
        self.connections = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return f"ws://127.0.0.1:{self.port}/sync"

    def _draw(self):
        with self.lock:
            cut = self.chaos and self.rng.random() < self.cut_probability
            return (self.rng.randint(1, self.max_cut) if cut else None,
                    self.rng.random() * self.max_delay if self.chaos else 0.0)

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.offline:
                client.close()
                continue
            self.connections += 1
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()
            return
        budget, delay = self._draw()
        socks = [client, upstream]
        sent = 0
        try:
            while not self.offline:
                r, _, _ = select.select(socks, [], [], 0.5)
                for s in r:
                    data = s.recv(16384)
                    if not data:
                        return
                    if delay:
                        time.sleep(delay * self.rng.random())
                    if s is upstream:
                        data = self._tamper(data)
                    else:
                        data = self._break_pull(data)
                    if budget is not None and sent + len(data) >= budget:
                        # deliver part of it, then cut: a connection dying mid-message
                        (upstream if s is client else client).sendall(data[: budget - sent])
                        with self.lock:
                            self.cuts += 1
                        return
                    (upstream if s is client else client).sendall(data)
                    sent += len(data)
        except OSError:
            pass
        finally:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _tamper(self, data):
        """One base64 character of a page's ciphertext changed ("c" follows
        the short header and nonce in the message's first bytes)."""
        with self.lock:
            at = data.find(b'"c":"') + 20
            if self.tamper_pages <= 0 or b'"t":"changes"' not in data or at < 20 or at >= len(data):
                return data
            if self.skip_pages > 0:
                self.skip_pages -= 1
                return data
            self.tamper_pages -= 1
            if self.unbox:
                return data.replace(b'"box":', b'"bux":', 1)
            if self.garble:
                return data.replace(b'"box":', b'"box";', 1)
        return data[:at] + (b"B" if data[at:at + 1] == b"A" else b"A") + data[at + 1:]

    def _break_pull(self, data):
        """A client frame (masked, one whole small text frame in this chunk)
        carrying a pull request gets "since":-N instead of N."""
        with self.lock:
            if self.break_pulls <= 0 or len(data) < 6 or data[0] != 0x81 or data[1] & 0x7f >= 126:
                return data
            n, key = data[1] & 0x7f, data[2:6]
            if len(data) != 6 + n:
                return data
            text = bytes(b ^ key[i % 4] for i, b in enumerate(data[6:]))
            if b'"t":"pull"' not in text or b'"since":' not in text:
                return data
            if self.skip_pulls > 0:
                self.skip_pulls -= 1
                return data
            self.break_pulls -= 1
        text = text.replace(b'"since":', b'"since":-', 1)
        if len(text) >= 126:
            return data
        return bytes([0x81, 0x80 | len(text)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(text))

    def close(self):
        self.stopping = True
        self.listener.close()
