"""A loopback TCP server that relays connections to a database, or that
accepts them and never answers, as a hung server or pooler does.

Threads only: each accepted connection is relayed by two threads, one per
direction, or held open, unanswered, until the relay is closed.
"""

import socket
import threading


class Relay:
    """Listens on a free loopback port.

    Args:
        target: ``(host, port)`` to relay new connections to; None to
            answer none of them.
    """

    def __init__(self, target=None):
        self.target = target
        self.listening = socket.create_server(("127.0.0.1", 0))
        self.port = self.listening.getsockname()[1]
        self.accepted = threading.Semaphore(0)
        self._held = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def go_silent(self):
        """From now on, accept new connections but never answer them; the
        connections relayed so far go on."""
        self.target = None

    def _accept(self):
        while True:
            try:
                client, _ = self.listening.accept()
            except OSError:
                return
            self._held.append(client)
            target = self.target
            if target is not None:
                server = socket.create_connection(target)
                self._held.append(server)
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(
                        target=self._pipe, args=(source, sink), daemon=True
                    ).start()
            self.accepted.release()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        # Wakes the thread blocked in accept(), which close() alone may not.
        self.listening.shutdown(socket.SHUT_RDWR)
        self.listening.close()
        for connection in self._held:
            connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
