"""Reading the child: protocol lines and raw output, with deadlines, bounded whatever it writes."""

from __future__ import annotations

import enum
import os
import queue
import selectors
import subprocess
import threading
import time
from collections import deque
from typing import IO, Any, Protocol

from grader.sandbox import wire

MAX_LINE_BYTES = 128 * 2**20      # above any honest message under wire.DEFAULT_CAPS
MAX_GARBAGE_BYTES = 64 * 2**20    # malformed protocol data before the child counts as crashed
RAW_READ_LIMIT = 16 * 2**20       # bytes read from fds 1 and 2 before the parent stops reading
MAX_CONTAINERS = 100_000          # JSON objects and arrays in one protocol line
MAX_COMMAS = 2 * wire.DEFAULT_CAPS.max_items  # JSON values in one protocol line, roughly
_CHUNK = 1 << 20


class Signal(enum.Enum):
    """What `Reader.next_message` returns instead of a message."""

    ENDED = "ended"
    TIMED_OUT = "timed out"


ENDED, TIMED_OUT = Signal.ENDED, Signal.TIMED_OUT


class ChildHandle(Protocol):
    """A running child as the reader sees it: its three pipes and how to learn that it ended."""

    @property
    def stdin(self) -> IO[bytes] | None:
        """Where the request goes."""

    @property
    def stdout(self) -> IO[bytes] | None:
        """The protocol pipe."""

    @property
    def stderr(self) -> IO[bytes] | None:
        """The raw output pipe (the child's fds 1 and 2)."""

    def exit_fd(self) -> int | None:
        """An fd that becomes readable when the child has ended (None: poll `exit_status`)."""

    def exit_status(self) -> tuple[str, int] | None:
        """("exit", code) or ("signal", number) once the child has ended, without reaping it."""

    def close(self) -> None:
        """Release what the handle holds besides the pipes (called after the child is gone)."""


class PopenChild:
    """A child started with subprocess (a fresh interpreter, maybe inside bwrap)."""

    def __init__(self, process: subprocess.Popen[bytes], *, wrapped: bool) -> None:
        self.process = process
        self.stdin, self.stdout, self.stderr = process.stdin, process.stdout, process.stderr
        self.wrapped = wrapped  # bwrap reports a child killed by signal N as exit code 128 + N
        self.pidfd: int | None = None

    def exit_fd(self) -> int | None:
        if self.pidfd is None and hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(self.process.pid)
            except OSError:
                self.pidfd = None
        return self.pidfd

    def exit_status(self) -> tuple[str, int] | None:
        if os.name != "posix" or not hasattr(os, "waitid"):  # Windows; macOS before Python 3.13
            code = self.process.poll()
            if code is None:
                return None
            return ("signal", -code) if code < 0 else ("exit", code)
        try:
            info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return None
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            if self.wrapped and info.si_status > 128:
                return "signal", info.si_status - 128
            return "exit", info.si_status
        return "signal", info.si_status

    def close(self) -> None:
        """Release the pidfd."""
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class Reader:
    """The child's protocol lines and raw output, read with deadlines; survives garbage and floods.

    The protocol pipe is the child's stdout, the raw pipe its stderr (where its fds 1 and 2 go).
    Memory stays bounded whatever the child writes: raw output keeps `output_cap` bytes per cell or
    call and stops being read after RAW_READ_LIMIT; a protocol line longer than MAX_LINE_BYTES is
    discarded, and MAX_GARBAGE_BYTES of discarded data end the child.
    """

    def __init__(self, process: ChildHandle, output_cap: int) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.process = process
        self.output_cap = output_cap
        self.lines: deque[bytes] = deque()
        self.buffer = bytearray()
        self.discarding = False
        self.raw = bytearray()
        self.raw_dropped = 0
        self.raw_read = 0
        self.garbage_lines = 0
        self.garbage_bytes = 0
        self.last_size = 0  # of the last line parsed
        self.proto_open = True
        self.exited = False
        self.flooded = False
        pump_type = _SelectorPump if os.name == "posix" else _ThreadPump
        self.pump = pump_type(process)

    def send_header(self, data: bytes) -> None:
        """Write the first line of the request now; it is small enough for the pipe's buffer."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.flush()
        except (OSError, ValueError):
            pass  # the child died at once: the reader reports how

    def send_request(self, data: bytes) -> None:
        """Write the request to the child's stdin from a thread (a dead child must not block us)."""
        stdin = self.process.stdin
        assert stdin is not None

        def write() -> None:
            for step in (lambda: stdin.write(data), stdin.close, stdin.close):
                try:
                    step()
                except (OSError, ValueError):
                    pass  # the child died (the reader reports how); closing again frees the fd

        threading.Thread(target=write, daemon=True).start()

    def next_message(self, deadline: float) -> dict[str, Any] | Signal:
        """The next well-formed message, or ENDED (child gone or channel closed) or TIMED_OUT."""
        while True:
            while self.lines:
                message = self._parse(self.lines.popleft())
                if message is not None:
                    return message
            if self.exited or self.flooded or not self.proto_open:
                return ENDED
            left = deadline - time.monotonic()
            if left <= 0:
                return TIMED_OUT
            self._handle(self.pump.wait(left))

    def _handle(self, events: list[tuple[str, bytes]]) -> None:
        for source, data in events:
            if source == "exit":
                # Whatever the child wrote before it died is already in the pipes.
                self._handle(self.pump.drain())
                self.exited = True
            elif source == "proto":
                if data:
                    self._feed(data)
                else:
                    self.proto_open = False
            elif data:
                self._feed_raw(data)

    def _feed(self, data: bytes) -> None:
        search_from = len(self.buffer)
        self.buffer += data
        while (end := self.buffer.find(b"\n", search_from)) >= 0:
            with memoryview(self.buffer) as view:
                line = bytes(view[:end])  # one copy, not two
            del self.buffer[: end + 1]
            search_from = 0
            if self.discarding:
                self.discarding = False
                self.garbage_lines += 1
            else:
                self.lines.append(line)
        if len(self.buffer) > MAX_LINE_BYTES:
            self.garbage_bytes += len(self.buffer)
            self.buffer.clear()
            self.discarding = True
        if self.garbage_bytes > MAX_GARBAGE_BYTES:
            self.flooded = True

    def reject(self) -> None:
        """The last message was well-formed but not wanted: it counts toward the flood cap."""
        self.garbage_lines += 1
        self.garbage_bytes += self.last_size
        self.flooded = self.garbage_bytes > MAX_GARBAGE_BYTES

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        self.last_size = len(line)
        message = None
        # Counted before json.loads builds anything: a line of a million empty objects would
        # cost gigabytes as Python dicts, though it is only megabytes of text.
        if line.count(b"{") + line.count(b"[") <= MAX_CONTAINERS and line.count(b",") <= MAX_COMMAS:
            try:
                message = wire.loads_line(line)
            except (ValueError, RecursionError):
                message = None
        if isinstance(message, dict) and isinstance(message.get("t"), str):
            return message
        self.garbage_lines += 1
        self.garbage_bytes += len(line)
        self.flooded = self.garbage_bytes > MAX_GARBAGE_BYTES
        return None

    def _feed_raw(self, data: bytes) -> None:
        self.raw_read += len(data)
        room = self.output_cap - len(self.raw)
        self.raw += data[: max(room, 0)]
        self.raw_dropped += max(len(data) - max(room, 0), 0)
        if self.raw_read > RAW_READ_LIMIT:
            # Stop reading: further writes to fds 1 and 2 fail in the child (EPIPE), not here.
            self.pump.stop_raw()

    def take_raw(self) -> str:
        """Output written straight to fds 1 and 2 since the last call, decoded, then cleared."""
        text = self.raw.decode("utf-8", "replace")
        if self.raw_dropped:
            text += f"\n[... {self.raw_dropped:,} more bytes of output not shown]"
        self.raw.clear()
        self.raw_dropped = 0
        return text

    def raw_tail(self) -> str:
        """The raw output so far, for the grader's own error messages."""
        return self.raw.decode("utf-8", "replace").strip()[-2000:]

    def end_status(self) -> tuple[str, int] | None:
        """("exit", code) or ("signal", number) if the child has ended, without reaping it."""
        return self.process.exit_status()

    def notes(self) -> list[str]:
        """Notices about tampering with the protocol channel, for the staff."""
        if not self.garbage_lines and not self.flooded:
            return []
        note = (f"The notebook's process wrote {self.garbage_lines} malformed line(s) to the "
                "grader's channel")
        return [note + (", too much to keep reading." if self.flooded else ".")]

    def close(self) -> None:
        """Release the pipes (call after the child has been killed)."""
        self.pump.close()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self.process.close()


class _SelectorPump:
    """POSIX: non-blocking pipes in one thread, and an exit fd (a pidfd, or a warm child's status
    pipe) or polling for the exit."""

    def __init__(self, process: ChildHandle) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.process = process
        self.selector = selectors.DefaultSelector()
        self.raw_stream = process.stderr
        self.fds = {"proto": process.stdout.fileno(), "raw": process.stderr.fileno()}
        for name, fd in self.fds.items():
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, name)
        self.exit_fd = process.exit_fd()
        if self.exit_fd is not None:
            self.selector.register(self.exit_fd, selectors.EVENT_READ, "exit")

    def wait(self, timeout: float) -> list[tuple[str, bytes]]:
        if self.exit_fd is None:
            timeout = min(timeout, 0.05)
        events: list[tuple[str, bytes]] = []
        for key, _ in self.selector.select(timeout):
            if key.data == "exit":
                self.selector.unregister(key.fd)
                events.append(("exit", b""))
            else:
                events.extend(self._read(key.data))
        if self.exit_fd is None and self._exited():
            events.append(("exit", b""))
        return events

    def _exited(self) -> bool:
        pid = getattr(getattr(self.process, "process", None), "pid", None)
        if pid is not None and not hasattr(os, "waitid"):  # macOS before Python 3.13
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return _is_zombie(pid)
        return self.process.exit_status() is not None

    def _read(self, name: str) -> list[tuple[str, bytes]]:
        fd = self.fds.get(name)
        if fd is None:
            return []
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(fd)
            del self.fds[name]
        return [(name, data)]

    def drain(self) -> list[tuple[str, bytes]]:
        """What is in the pipes now; bounded, since a surviving fork may still be writing."""
        events: list[tuple[str, bytes]] = []
        for name in ("proto", "raw"):
            for _ in range(MAX_LINE_BYTES // _CHUNK + 2):
                got = self._read(name)
                events.extend(got)
                if not got or not got[0][1]:
                    break
        return events

    def stop_raw(self) -> None:
        fd = self.fds.pop("raw", None)
        if fd is not None:
            self.selector.unregister(fd)
            self.raw_stream.close()

    def close(self) -> None:
        self.selector.close()


class _ThreadPump:
    """Windows: pipes cannot be selected there, so threads read them into a queue."""

    def __init__(self, process: ChildHandle) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.ignore_raw = False
        for name, stream in (("proto", process.stdout), ("raw", process.stderr)):
            threading.Thread(target=self._pipe, args=(name, stream.fileno()), daemon=True).start()
        threading.Thread(target=self._wait, args=(process,), daemon=True).start()

    def _wait(self, process: ChildHandle) -> None:
        popen = getattr(process, "process", None)
        if popen is not None:
            popen.wait()
        else:
            while process.exit_status() is None:
                time.sleep(0.05)
        self.queue.put(("exit", b""))

    def _pipe(self, name: str, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except OSError:
                data = b""
            self.queue.put((name, data))
            if not data:
                return

    def wait(self, timeout: float) -> list[tuple[str, bytes]]:
        try:
            events = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.queue.empty():
            events.append(self.queue.get_nowait())
        return [e for e in events if not (self.ignore_raw and e[0] == "raw")]

    def drain(self) -> list[tuple[str, bytes]]:
        return self.wait(0.1)

    def stop_raw(self) -> None:
        self.ignore_raw = True

    def close(self) -> None:
        pass


def _is_zombie(pid: int) -> bool:
    """Whether a process has exited but not been reaped (via `ps`, where /proc is absent)."""
    try:
        state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True,
                               timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return not state or state.startswith("Z")
