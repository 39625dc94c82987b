"""A worker thread that calls ``flush()`` every ``interval`` seconds and once more on close."""

from __future__ import annotations

import threading


class Periodic:
    """Base for off-the-hot-path writers; subclasses define ``_flush`` and call ``super().__init__`` last."""

    def __init__(self, interval: float, name: str):
        self.interval = interval
        # one flush at a time: a caller's flush() must not return while the thread's
        # flush still holds work it took from the queue but has not written yet
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def flush(self) -> int:
        """Do the pending work now (after any flush in progress); returns how much was done."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> int:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        """Stop the thread after a final flush."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
