"""The gateway's gunicorn worker (``worker_class`` in serving/gateway/gunicorn.conf.py): gunicorn's
threaded worker, except that a graceful stop drops no connection.

gunicorn's ``gthread`` worker, told to stop (SIGTERM from a HUP, a USR2 hand-over or a stop of its
master, or ``max_requests``), leaves its loop and closes its poller: the connections it has
accepted but not started answering, and the kept-alive ones between two requests, are closed
unanswered, and their clients see "connection reset" or "remote end closed connection without
response". This worker, on a graceful stop:

1. stops accepting (the listening socket stays open in the master and the other workers, so the
   kernel's queue of new connections goes to them);
2. answers every request in progress and every request that arrives on a connection it already
   holds (accepted, or kept alive) with ``Connection: close``; a response that had already
   promised keep-alive when the stop came keeps its connection open for the next request, which
   is answered the same way;
3. closes a connection that sends nothing for ``keepalive`` seconds (what it does at any time
   with an idle kept-alive connection), and exits when it holds none, at the latest
   ``graceful_timeout`` after the signal (when the master would kill it anyway).

SIGQUIT and SIGINT still stop at once, as in gunicorn.
"""

from __future__ import annotations

import errno
import selectors
import time
from collections import deque
from concurrent import futures
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

POLL_S = 0.1  # how often the draining loop looks at its connections and futures


class DrainingThreadWorker(ThreadWorker):
    """``gthread`` with a graceful stop that answers every connection it has accepted."""

    futures: deque[Any]  # gthread's requests submitted to its thread pool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_signalled: float | None = None  # time.monotonic() of the SIGTERM
        self.drained = False  # the drain is over: what is left is closed
        # Accepted connections that have not sent their first request yet, with the monotonic
        # time after which a draining worker gives up on them.
        self.fresh: dict[TConn, float] = {}

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.stop_signalled is None:
            self.stop_signalled = time.monotonic()
        super().handle_exit(sig, frame)

    def accept(self, server: Any, listener: Any) -> None:
        # gthread's accept, keeping the connection in ``fresh`` until it sends its request.
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        conn = TConn(self.cfg, sock, client, server)
        self.nr_conns += 1
        with self._lock:
            self.fresh[conn] = float("inf")
            self.poller.register(conn.sock, selectors.EVENT_READ,
                                 partial(self.on_client_socket_readable, conn))

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        with self._lock:
            self.fresh.pop(conn, None)
        super().on_client_socket_readable(conn, client)

    def finish_request(self, fs: Any) -> None:
        try:
            self.settle(fs)
        finally:
            fs.settled = True  # its connection is closed or waits in the poller

    def settle(self, fs: Any) -> None:
        # From the signal (alive is False) to the end of the drain, keep-alive is honoured.
        if self.alive or self.drained or fs.cancelled():
            super().finish_request(fs)
            return
        try:
            keepalive, conn = fs.result()
        except Exception:  # gthread's finish_request closes the connection the same way
            keepalive, conn = False, fs.conn
        if not keepalive:
            self.nr_conns -= 1
            conn.close()
            return
        # The response promised keep-alive before the stop: wait for the client's next request
        # (answered with Connection: close) instead of closing under it.
        conn.sock.setblocking(False)
        conn.set_timeout()
        with self._lock:
            if not self.drained:  # past the graceful timeout the drain has closed the poller
                self._keep.append(conn)
                self.poller.register(conn.sock, selectors.EVENT_READ,
                                     partial(self.on_client_socket_readable, conn))
                return
        self.nr_conns -= 1
        conn.close()

    def run(self) -> None:
        # gthread's loop, then the drain instead of closing the poller under the connections.
        for sock in self.sockets:
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ,
                                 partial(self.accept, sock.getsockname()))
        while self.alive:
            self.notify()
            if self.nr_conns < self.worker_connections:
                for key, _ in self.poller.select(1.0):
                    key.data(key.fileobj)
                result = futures.wait(self.futures, timeout=0,
                                      return_when=futures.FIRST_COMPLETED)
            else:
                result = futures.wait(self.futures, timeout=1.0,
                                      return_when=futures.FIRST_COMPLETED)
            for fut in result.done:
                self.futures.remove(fut)
            if not self.is_parent_alive():
                break
            self.murder_keepalived()
        self.drain()

    def drain(self) -> None:
        """Stop accepting, answer what the connections held send, close them, exit."""
        self.alive = False  # every response from now on says Connection: close
        start = self.stop_signalled or time.monotonic()
        deadline = start + self.cfg.graceful_timeout
        patience = max(float(self.cfg.keepalive), 2.0)
        for sock in self.sockets:
            self.poller.unregister(sock)
            sock.close()
        with self._lock:
            for conn in self.fresh:
                self.fresh[conn] = time.monotonic() + patience
        while time.monotonic() < deadline:
            self.notify()
            # A future is done before its callback has settled its connection: wait for both.
            self.futures = deque(fut for fut in self.futures if not getattr(fut, "settled", False))
            with self._lock:
                if not (self.futures or self._keep or self.fresh):
                    break
            for key, _ in self.poller.select(POLL_S):
                key.data(key.fileobj)
            self.murder_keepalived()
            self.close_silent(time.monotonic())
        with self._lock:
            self.drained = True
            left = [*self._keep, *self.fresh]
            self._keep.clear()
            self.fresh.clear()
        for conn in left:
            conn.close()
        self.tpool.shutdown(False)
        self.poller.close()
        futures.wait(self.futures, timeout=max(0.0, deadline - time.monotonic()))

    def close_silent(self, now: float) -> None:
        """Close the accepted connections that sent no request within the patience."""
        with self._lock:
            silent = [conn for conn, until in self.fresh.items() if until <= now]
            for conn in silent:
                del self.fresh[conn]
                self.poller.unregister(conn.sock)
                self.nr_conns -= 1
        for conn in silent:
            conn.close()
