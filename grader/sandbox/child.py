"""The sandboxed child: runs a notebook's cells, then the grader's calls, and reports plain data.

STANDALONE: stdlib and numpy only, never `grader` (the child must not see the grader's source). The
parent passes this file's text to `python -I -S -B -c`. Protocol: one JSON request on stdin; one
JSON object per line on the protocol fd (the original stdout, moved aside before any student code
runs); the student's prints are captured per cell or call and capped here, and anything written
straight to fd 1 or 2 goes to the parent's stderr pipe. The wire format is that of wire.py.
"""

import base64
import builtins
import io
import json
import linecache
import math
import os
import signal
import sys
import traceback

_dumps = json.dumps
_b64encode = base64.b64encode
_b64decode = base64.b64decode
_write = os.write
_monotonic = __import__("time").monotonic

# The builtins as they were before any student code ran. A notebook that replaces one (say
# builtins.isinstance, which json's encoder looks up at every call) gets them all back after
# each cell and each call, before the harness encodes anything.
_BUILTINS = builtins.__dict__
_BUILTINS_BEFORE = dict(_BUILTINS)
_restore_builtins = _BUILTINS.update
_FUTURE_ANNOTATIONS = __import__("__future__").annotations.compiler_flag

_HARNESS_GLOBALS = globals()
_READY = [False]  # whether student code may have run
_LE_DTYPES = WIRE_DTYPES  # type: ignore[name-defined]  # noqa: F821  (protocol.py comes first)
_RLIMITS = {"AS": "RLIMIT_AS", "CPU": "RLIMIT_CPU", "NOFILE": "RLIMIT_NOFILE",
            "NPROC": "RLIMIT_NPROC", "FSIZE": "RLIMIT_FSIZE", "CORE": "RLIMIT_CORE"}



def _is_tagged(obj, tags):
    """Whether a grader-sent argument is one of the tagged non-data forms."""
    return type(obj) is dict and any(tag in obj for tag in tags)

class TimeLimitExceeded(BaseException):
    """Raised in student code when its time is up (BaseException: `except Exception` misses it)."""


class _BadValue(Exception):
    """A result the wire cannot carry; the message says what came back."""


class _MissingRef(Exception):
    """An argument refers to a call that has no result in this process."""


class _Capture(io.TextIOBase):
    """sys.stdout/sys.stderr for student code: keeps the first `cap` characters, counts the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.reset()

    def reset(self):
        self.parts = []
        self.kept = 0
        self.dropped = 0

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        n = len(s)
        room = self.cap - self.kept
        if n <= room:
            self.parts.append(s)
            self.kept += n
        else:
            # Slicing only the part kept makes a 100 MB print loop cost no memory here.
            if room > 0:
                self.parts.append(s[:room])
                self.kept += room
            self.dropped += n - max(room, 0)
        return n

    def writable(self):
        return True

    def isatty(self):
        return False

    encoding = "utf-8"

    def text(self):
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[... {self.dropped:,} more characters of output not shown]"
        return out


# ---------------------------------------------------------------- packages the grader lacks
# A notebook imports what its author's kernel has (matplotlib, torch, google.colab); the child
# has numpy and the standard library. An unguarded import of a missing package binds a stand-in
# instead of stopping its cell. Display packages' stand-ins do nothing when called (a plot is
# not graded); the others fail, with a clear message, where they are used.
_DISPLAY_PACKAGES: set = set()  # filled from the request (the grader's diagnosis.DISPLAY_PACKAGES)
_PROVIDED = "numpy and the Python standard library"


class _AbsentMeta(type):
    """Stand-ins are classes, so `isinstance(x, torch.Tensor)` is False and subclassing works."""

    def __getattr__(cls, attribute):
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        return _stand_in(f"{cls._dotted}.{attribute}")

    def __call__(cls, *args, **kwargs):
        if cls._display:
            return _display_call(cls, args)
        raise ModuleNotFoundError(
            f"{cls._root} is not available to the grader, so `{cls._dotted}` cannot run here "
            f"(the grader provides {_PROVIDED})", name=cls._root)

    def __instancecheck__(cls, instance):
        return False

    def __subclasscheck__(cls, subclass):
        return False

    def __iter__(cls):
        return iter(())

    def __getitem__(cls, key):
        return cls

    def __setitem__(cls, key, value):
        pass

    def __len__(cls):
        return 0

    def __enter__(cls):
        return cls

    def __exit__(cls, *exc):
        return False

    def __repr__(cls):
        return f"<{cls._dotted}: not available to the grader>"


def _stand_in(dotted):
    root = dotted.split(".", 1)[0]
    return _AbsentMeta(dotted.rsplit(".", 1)[-1], (), {
        "_dotted": dotted, "_root": root, "_display": root in _DISPLAY_PACKAGES})


def _display_call(cls, args):
    """A display package's call: nothing happens, and what code usually unpacks still unpacks."""
    name = cls._dotted.rsplit(".", 1)[-1]
    if name in ("tqdm", "tqdm_notebook") and args:
        return args[0]  # `for x in tqdm(data)` loops over data
    if name in ("trange", "tnrange"):
        return range(*args)
    if name == "subplots":
        return cls, cls  # fig, ax = plt.subplots(...)
    return cls


class _ImportGuard:
    """builtins.__import__ that binds a stand-in to a package missing from the sandbox."""

    def __init__(self, real_import, student_globals):
        self.real_import = real_import
        self.student_globals = student_globals
        self.guarded = {}   # cell file name -> line numbers of imports the student guards
        self.absent = {}    # top-level package -> (the name imported, the cell that imported it)

    def __call__(self, name, globals=None, locals=None, fromlist=(), level=0):
        try:
            return self.real_import(name, globals, locals, fromlist, level)
        except ModuleNotFoundError as exc:
            stand_in = self.stand_in_for(exc, name, globals, fromlist, level)
            if stand_in is None:
                raise
            return stand_in

    def stand_in_for(self, exc, name, globals, fromlist, level):
        root = name.split(".", 1)[0]
        missing = (exc.name or "").split(".", 1)[0]
        if level != 0 or globals is not self.student_globals or missing != root:
            return None  # a relative import, a library's own import, or a missing dependency
        frame = sys._getframe(2)
        code_name = frame.f_code.co_filename
        if code_name not in self.guarded or frame.f_lineno in self.guarded[code_name]:
            return None  # not a cell's own line, or one inside the student's try/except
        self.absent.setdefault(root, (name, code_name))
        # `import a.b` binds `a` (and `a.b` comes from its __getattr__); `from a.b import c`
        # takes `c` from `a.b`.
        return _stand_in(name if fromlist else root)


class _Harness:
    """State of one child: the student's namespace, call results, timers and the protocol fd."""

    def __init__(self, request, proto_fd, np):
        self.req = request
        self.proto = proto_fd
        self.np = np
        self.caps = request["caps"]
        self.capture = _Capture(int(request["output_bytes"]))
        self.armed = False
        self.results = {}
        self.functions = {}
        self.cells = {}
        self.module = type(sys)("__main__")
        self.module.__dict__["__builtins__"] = builtins
        self.pid = os.getpid()
        self.imports = _ImportGuard(builtins.__import__, self.module.__dict__)
        _DISPLAY_PACKAGES.update(request.get("display_packages", ()))
        builtins.__import__ = _BUILTINS_BEFORE["__import__"] = self.imports

    # ------------------------------------------------------------ protocol
    def send(self, message):
        data = (_dumps(message, allow_nan=False) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            try:
                written = _write(self.proto, view)
            except InterruptedError:
                continue
            view = view[written:]

    # ------------------------------------------------------------ timers
    def on_alarm(self, signum, frame):
        if self.armed:
            raise TimeLimitExceeded(f"stopped after {self.limit:g} s")

    def arm(self, seconds):
        self.limit = seconds
        self.capture.reset()
        sys.stdout = sys.stderr = self.capture
        if hasattr(signal, "setitimer"):
            # Re-installed for every cell and call: an earlier cell may have replaced the handler.
            signal.signal(signal.SIGALRM, self.on_alarm)
            # The interval re-raises every 0.25 s, to get out of `except BaseException: pass` loops.
            signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.25)
        self.armed = True

    def disarm(self):
        self.armed = False  # first: a signal already pending must not raise in the harness
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        if os.getpid() != self.pid:
            # A process the student forked has come back into the harness: it must not report.
            os._exit(0)
        _restore_builtins(_BUILTINS_BEFORE)

    # ------------------------------------------------------------ tracebacks
    def student_traceback(self, exc):
        """The traceback of `exc` without the harness's frames, as the student would read it."""
        try:
            linecache.cache.update(self.cells)  # student code may have cleared linecache
            # Harness frames are told apart by their globals, not by a file name students can reuse.
            frames = traceback.StackSummary.extract(
                (tb.tb_frame, tb.tb_lineno) for tb in _walk_tb(exc.__traceback__)
                if tb.tb_frame.f_globals is not _HARNESS_GLOBALS)
            lines = ["Traceback (most recent call last):\n"] if frames else []
            lines += traceback.format_list(frames)
            lines += traceback.format_exception_only(type(exc), exc)
            return "".join(lines)
        except BaseException:
            return f"{type(exc).__name__} (its details could not be shown)\n"

    # ------------------------------------------------------------ cells
    def run_cells(self):
        sys.modules["__main__"] = self.module
        deadline = _monotonic() + float(self.req["budget"])
        for cell in self.req["cells"]:
            index, source = cell["index"], cell["source"]
            left = deadline - _monotonic()
            if left <= 0:
                self.send({"t": "cell", "index": index, "status": "skipped", "output": "",
                           "message": "Not run: the notebook used up its total time budget."})
                continue
            limit = min(float(cell["timeout"]), left)
            name = f"<cell {index}>"
            self.imports.guarded[name] = frozenset(cell.get("guarded", ()))
            self.cells[name] = (len(source), None, source.splitlines(True), name)
            linecache.cache[name] = self.cells[name]
            status, message = "ok", ""
            self.capture.reset()
            try:
                try:
                    # Annotations stay unevaluated (PEP 563), as a `def` whose annotation names a
                    # failed import's type would otherwise not be defined at all.
                    code = compile(source, name, "exec", _FUTURE_ANNOTATIONS, True)
                    self.arm(limit)
                    exec(code, self.module.__dict__)  # noqa: S102  (running the notebook is the point)
                finally:
                    self.disarm()
            except TimeLimitExceeded as exc:
                status = "timeout"
                message = (f"Cell {index} did not finish within {limit:g} s and was stopped here:\n"
                           + self.student_traceback(exc))
            except BaseException as exc:
                status, message = "error", self.student_traceback(exc)
            absent = [imported for imported, where in self.imports.absent.values() if where == name]
            self.send({"t": "cell", "index": index, "status": status, "message": message,
                       "output": self.capture.text(), "absent": absent})

    # ------------------------------------------------------------ calls
    def run_calls(self):
        hung = set()  # functions that already ran out of time: not called again (saves the budget)
        for call in self.req["calls"]:
            reply = {"t": "call", "id": call["id"], "status": "ok", "message": "", "value": None,
                     "args_after": None}
            if call["function"] in hung and not call["replay"]:
                reply.update(status="timeout", output="", message=(
                    f"Not called: an earlier call of `{call['function']}` did not return in time."))
                self.send(reply)
                continue
            try:
                self.run_call(call, reply)
            except TimeLimitExceeded as exc:
                hung.add(call["function"])
                reply.update(status="timeout", value=None, args_after=None, message=(
                    f"`{call['function']}` did not return within {float(call['timeout']):g} s "
                    "and was stopped here:\n" + self.student_traceback(exc)))
            except _BadValue as exc:
                reply.update(status="bad_value", value=None, args_after=None, message=str(exc))
            except _MissingRef as exc:
                reply.update(status="not_run", message=str(exc))
            except BaseException as exc:
                # Student objects can fail even the harness's reading of them (a __class__ that
                # raises, say); that is a value the grader cannot use.
                reply.update(status="bad_value", value=None, args_after=None, message=(
                    f"What `{call['function']}` returned could not be read "
                    f"({type(exc).__name__})."))
            reply["output"] = self.capture.text()
            self.send(reply)

    def run_call(self, call, reply):
        name = call["function"]
        self.capture.reset()
        namespace = self.module.__dict__
        if name not in namespace:
            reply.update(status="missing", message=f"`{name}` is not defined in the notebook.")
            return
        function = namespace[name]
        if not callable(function):
            reply.update(status="missing", message=(
                f"`{name}` is defined in the notebook but is a {type(function).__name__}, "
                "not a function."))
            return
        args = [self.decode(a) for a in call["args"]]
        kwargs = {k: self.decode(v) for k, v in call["kwargs"].items()}
        try:
            self.arm(float(call["timeout"]))
            try:
                try:
                    result = function(*args, **kwargs)
                finally:
                    _restore_builtins(_BUILTINS_BEFORE)
            except TimeLimitExceeded:
                raise
            except BaseException as exc:
                reply.update(status="error", message=self.student_traceback(exc))
                return
            if call["keep"]:  # only results a later call refers to stay in memory
                self.results[call["id"]] = result
            if call["replay"]:
                return
            value = self.select(name, result, call["select"])
            reply["value"] = self.encode_value(value, f"`{name}` returned ")
            if call["return_args"]:
                # Grader-made functions and earlier results are not data to send back.
                reply["args_after"] = [
                    None if _is_tagged(raw, ("$fn", "$ref"))
                    else self.encode_value(a, f"after `{name}` ran, argument {i + 1} is ")
                    for i, (raw, a) in enumerate(zip(call["args"], args, strict=True))]
        finally:
            self.disarm()

    def select(self, name, result, key):
        if key is None:
            return result
        if isinstance(result, (tuple, list)) and type(key) is int:
            items = list(tuple.__iter__(result)) if isinstance(result, tuple) else list.copy(result)
            if -len(items) <= key < len(items):
                return items[key]
            raise _BadValue(f"`{name}` returned a {type(result).__name__} of length {len(items)}; "
                            f"the grader needs item [{key}] of it.")
        if isinstance(result, dict):
            if dict.__contains__(result, key):
                return dict.__getitem__(result, key)
            raise _BadValue(f"`{name}` returned a dict without the key {key!r} the grader needs.")
        raise _BadValue(f"`{name}` returned {_describe(result)}; the grader needs item "
                        f"[{key!r}] of a tuple, list or dict.")

    # ------------------------------------------------------------ wire format
    def decode(self, obj):
        """Decode a grader-sent argument (trusted data), resolving $ref and $fn."""
        if type(obj) is list:
            return [self.decode(v) for v in obj]
        if type(obj) is not dict:
            return obj
        tag = "$ref" if "$ref" in obj else next(iter(obj))
        body = obj[tag]
        np = self.np
        if tag == "$array":
            raw = _b64decode(body["data"])
            return np.frombuffer(raw, dtype=np.dtype(body["dtype"])).reshape(body["shape"]).copy()
        if tag == "$scalar":
            return np.frombuffer(_b64decode(body["data"]), dtype=np.dtype(body["dtype"]))[0]
        if tag == "$tuple":
            return tuple(self.decode(v) for v in body)
        if tag == "$dict":
            return {k: self.decode(v) for k, v in body}
        if tag == "$float":
            return float(body)
        if tag == "$complex":
            return complex(self.decode(body[0]), self.decode(body[1]))
        if tag == "$fn":
            if body not in self.functions:
                self.functions[body] = eval(body, {"np": np, "__builtins__": builtins})  # noqa: S307
            return self.functions[body]
        if tag == "$ref":
            if body not in self.results:
                raise _MissingRef(f"Not run: it needs the result of call {body!r}, which did not "
                                  "return a value.")
            value, index = self.results[body], obj["index"]
            if index is None:
                return value
            try:
                return value[index]
            except Exception:
                raise _MissingRef(f"Not run: it needs item [{index!r}] of the result of call "
                                  f"{body!r}, which is {_describe(value)} without it.") from None
        raise ValueError(f"unknown tag {tag}")

    def encode_value(self, value, what):
        budget = {"items": int(self.caps["max_items"]), "bytes": int(self.caps["max_array_bytes"])}
        return self.encode(value, 0, budget, set(), what)

    def encode(self, v, depth, budget, path, what):
        """Encode a student's value, or raise _BadValue saying what came back."""
        if depth > self.caps["max_depth"]:
            raise _BadValue(f"{what}a value nested more than {self.caps['max_depth']} levels deep.")
        budget["items"] -= 1
        if budget["items"] < 0:
            raise _BadValue(f"{what}a value with more than {self.caps['max_items']:,} items.")
        if v is None or v is True or v is False:
            return v
        np = self.np
        if isinstance(v, np.ndarray):
            return {"$array": self.array_body(np.asarray(v), budget, what, with_shape=True)}
        if isinstance(v, np.generic):
            if isinstance(v, np.str_):
                return self.encode(str.__str__(v), depth, budget, path, what)
            return {"$scalar": self.array_body(np.asarray(v), budget, what, with_shape=False)}
        if isinstance(v, int):
            v = int.__index__(v)
            if v.bit_length() > 1000:
                raise _BadValue(f"{what}an int with more than 300 digits.")
            return v
        if isinstance(v, float):
            v = float.__float__(v)
            if math.isfinite(v):
                return v
            return {"$float": "nan" if v != v else ("inf" if v > 0 else "-inf")}
        if isinstance(v, complex):
            return {"$complex": [self.encode(v.real, depth + 1, budget, path, what),
                                 self.encode(v.imag, depth + 1, budget, path, what)]}
        if isinstance(v, str):
            v = str.__str__(v)
            if len(v) > self.caps["max_str"]:
                raise _BadValue(f"{what}a string of {len(v):,} characters, more than "
                                f"{self.caps['max_str']:,}.")
            return v
        if isinstance(v, (list, tuple, dict)):
            if id(v) in path:
                raise _BadValue(f"{what}a {type(v).__name__} that contains itself.")
            path.add(id(v))
            try:
                if isinstance(v, dict):
                    pairs = []
                    for key, item in dict.items(v):
                        if isinstance(key, bool) or type(key) not in (str, int):
                            raise _BadValue(f"{what}a dict with a key of type "
                                            f"{type(key).__name__}; only str and int keys can be "
                                            "sent back.")
                        pairs.append([key, self.encode(item, depth + 1, budget, path, what)])
                    return {"$dict": pairs}
                items = tuple.__iter__(v) if isinstance(v, tuple) else list.__iter__(v)
                encoded = [self.encode(item, depth + 1, budget, path, what) for item in items]
                return {"$tuple": encoded} if isinstance(v, tuple) else encoded
            finally:
                path.discard(id(v))
        raise _BadValue(f"{what}{_describe(v)}; only numbers, numpy arrays, strings, None, and "
                        "lists, tuples and dicts of those can be checked.")

    def array_body(self, a, budget, what, with_shape):
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dtype.str not in _LE_DTYPES:
            raise _BadValue(f"{what}a numpy array of dtype {a.dtype}; only numeric and boolean "
                            "arrays can be checked.")
        nbytes = a.size * dtype.itemsize
        budget["bytes"] -= nbytes
        if budget["bytes"] < 0:
            raise _BadValue(f"{what}arrays of {nbytes:,} bytes, more than the "
                            f"{self.caps['max_array_bytes']:,} the grader accepts.")
        a = self.np.ascontiguousarray(a, dtype=dtype)
        body = {"dtype": dtype.str, "data": _b64encode(a.tobytes()).decode("ascii")}
        if with_shape:
            body["shape"] = list(a.shape)
        return body


def _walk_tb(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _describe(value):
    kind = type(value)
    module = getattr(kind, "__module__", "")
    name = kind.__qualname__
    if module not in ("builtins", "__main__", None):
        name = f"{module}.{name}"
    return f"a value of type {name}"


def _apply_limits(limits):
    try:
        import resource
    except ImportError:  # Windows: no resource limits at all
        return
    for key, value in limits.items():
        which = getattr(resource, _RLIMITS[key], None)
        if which is None:
            continue
        soft, hard = value if isinstance(value, list) else (value, value)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))


def _drop_privileges(uid, gid):
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise RuntimeError("could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("privileges came back after dropping them")


# Linux seccomp, per machine: the audit arch, and syscall numbers by name (x86_64's own table;
# aarch64 uses the generic one, without the legacy chmod/chown/lchown).
_SECCOMP_ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALLS = {
    "x86_64": {"socket": 41, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
               "add_key": 248, "request_key": 249, "keyctl": 250, "ptrace": 101,
               "process_vm_readv": 310, "process_vm_writev": 311, "bpf": 321, "perf_event_open": 298,
               "userfaultfd": 323, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
               "pivot_root": 155, "sethostname": 170, "setdomainname": 171, "settimeofday": 164,
               "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159, "reboot": 169,
               "init_module": 175, "finit_module": 313, "delete_module": 176, "swapon": 167,
               "swapoff": 168, "kexec_load": 246, "acct": 163,
               "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260, "chmod": 90, "fchmod": 91,
               "fchmodat": 268, "fchmodat2": 452, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
               "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
               "prlimit64": 302, "sched_setaffinity": 203, "sched_setscheduler": 144,
               "sched_setparam": 142, "setpriority": 141, "ioprio_set": 251,
               "clone": 56, "clone3": 435, "open_tree": 428, "move_mount": 429, "fsopen": 430,
               "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "flock": 73,
               "fcntl": 72},
    "aarch64": {"socket": 198, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
                "add_key": 217, "request_key": 218, "keyctl": 219, "ptrace": 117,
                "process_vm_readv": 270, "process_vm_writev": 271, "bpf": 280, "perf_event_open": 241,
                "userfaultfd": 282, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39,
                "pivot_root": 41, "sethostname": 161, "setdomainname": 162, "settimeofday": 170,
                "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171, "reboot": 142,
                "init_module": 105, "finit_module": 273, "delete_module": 106, "swapon": 224,
                "swapoff": 225, "kexec_load": 104, "acct": 89,
                "fchown": 55, "fchownat": 54, "fchmod": 52, "fchmodat": 53, "fchmodat2": 452,
                "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
                "fremovexattr": 16, "prlimit64": 261, "sched_setaffinity": 122,
                "sched_setscheduler": 119, "sched_setparam": 118, "setpriority": 140, "ioprio_set": 30,
                "clone": 220, "clone3": 435, "open_tree": 428, "move_mount": 429, "fsopen": 430,
                "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "flock": 32,
                "fcntl": 25},
}
# Refused for every child: sockets (no network; socketpair stays), io_uring (it opens sockets
# without the socket syscall), the kernel keyrings (they outlive the session: a channel to the
# next submission of the same uid), reaching other processes' memory, new namespaces, and what
# only root may do anyway (mounts, host name, clock, modules, reboot).
_DENIED = ("socket", "io_uring_setup", "io_uring_enter", "io_uring_register", "add_key",
           "request_key", "keyctl", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
           "perf_event_open", "userfaultfd", "unshare", "setns", "mount", "umount2", "pivot_root",
           "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime",
           "adjtimex", "reboot", "init_module", "finit_module", "delete_module", "swapon",
           "swapoff", "kexec_load", "acct", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
           "fspick", "mount_setattr", "flock")
# Refused to a child that is still root (the rlimits layer run as root): Landlock does not
# cover a file's owner, mode or attributes.
_DENIED_TO_ROOT = ("chown", "fchown", "lchown", "fchownat", "chmod", "fchmod", "fchmodat",
                   "fchmodat2", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
                   "fremovexattr")
# New namespaces through clone (unshare's twin): refused when the flags ask for one. clone3 passes
# its flags in memory a filter cannot read: ENOSYS, so that glibc falls back to clone.
_CLONE_NEW = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
_FLAGS_DENIED = (("clone", 0, _CLONE_NEW),)
_NOT_IMPLEMENTED = ("clone3",)
# File locks on files every session can read (the standard library) are a channel between
# concurrent sessions: fcntl's lock commands (F_GETLK, F_SETLK(W), F_OFD_*) refused, as is flock.
_ARGUMENT_DENIED = (("fcntl", 1, (5, 6, 7, 36, 37, 38)),)
# Allowed only on the process itself (argument index that names the target, 0 meaning self): a
# child of the grader's own uid could otherwise change the grader's limits or scheduling.
_SELF_ONLY = (("prlimit64", 0), ("sched_setaffinity", 0), ("sched_setscheduler", 0),
              ("sched_setparam", 0), ("setpriority", 1), ("ioprio_set", 1))


def _seccomp_program(audit_arch, numbers, denied, self_only, flags_denied=(), not_implemented=(),
                     argument_denied=()):
    """A classic BPF program: (code, jt, jf, k) tuples; jumps to the labels resolved here."""
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # LD|W|ABS, JMP|JEQ|K, JGE, JSET, RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 13  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EACCES
    enosys = 0x00050000 | 38  # SECCOMP_RET_ERRNO | ENOSYS
    program: list = [(ld, 0, 0, 4), (jeq, 1, 0, audit_arch), (ret, 0, 0, deny),  # another ABI: refused
                     (ld, 0, 0, 0), (jge, "deny", 0, 0x40000000)]  # x32 ABI: refused
    for name in denied:
        if name in numbers:
            program.append((jeq, "deny", 0, numbers[name]))
    for name in not_implemented:
        if name in numbers:
            program.append((jeq, "enosys", 0, numbers[name]))
    for name, argument in self_only:
        if name in numbers:
            # Not this syscall: skip its two checks (A still holds the number).
            program += [(jeq, 0, 2, numbers[name]), (ld, 0, 0, 16 + 8 * argument),
                        (jeq, "allow", "deny", 0)]
    for name, argument, mask in flags_denied:
        if name in numbers:  # low 32 bits of the argument: any of the mask's bits refuses
            program += [(jeq, 0, 2, numbers[name]), (ld, 0, 0, 16 + 8 * argument),
                        (jset, "deny", "allow", mask)]
    for name, argument, values in argument_denied:
        if name in numbers:
            program += [(jeq, 0, len(values) + 2, numbers[name]), (ld, 0, 0, 16 + 8 * argument)]
            program += [(jeq, "deny", 0, value) for value in values]
            program.append((ret, 0, 0, allow))
    labels = {"allow": len(program), "deny": len(program) + 1, "enosys": len(program) + 2}
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny), (ret, 0, 0, enosys)]
    resolved = []
    for i, (code, jt, jf, k) in enumerate(program):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        resolved.append((code, jt, jf, k))
    return resolved


def _block_network():
    """Install the child's seccomp filter (for this process and its children): no sockets, no
    keyrings, nothing that reaches other processes or the host; see _DENIED and _SELF_ONLY.

    The namespaces layer already has no network; this closes it where namespaces are refused
    (the uid layer, e.g. in Docker). Returns whether the filter is installed.
    """
    import ctypes
    import platform

    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in _SECCOMP_ARCHES:
        return False
    denied = _DENIED + (_DENIED_TO_ROOT if os.geteuid() == 0 else ())
    program = _seccomp_program(_SECCOMP_ARCHES[machine], _SYSCALLS[machine], denied, _SELF_ONLY,
                               _FLAGS_DENIED, _NOT_IMPLEMENTED, _ARGUMENT_DENIED)

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]

    insns = (Insn * len(program))(*[Insn(*i) for i in program])
    prog = Prog(len(program), insns)
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) == 0


def _own_ipc_namespace():
    """As root before the switch: SysV IPC of this session's own (refused in some containers;
    the grader then removes the uid's IPC objects after the session)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(0x08000000) == 0  # CLONE_NEWIPC
    except Exception:
        return False


def _seed_workdir(source, target, drop):
    """Copy a large submission into the (size-capped) working folder, writable by the child."""
    import shutil

    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    # copytree gave the working folder the source's mode: writable by everyone again (sticky).
    os.chmod(target, 0o1777)
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if drop is not None:
                os.chown(path, drop[0], drop[1], follow_symlinks=False)
            if not os.path.islink(path):
                os.chmod(path, 0o777 if name in dirs else 0o666)


def _confine(rules):
    """Landlock (Linux 5.13+): read only the runtime, write only the working folder, no TCP,
    no signals or abstract sockets outside this process's own tree. A summary for the grader."""
    if rules is None:
        return {"applied": False, "reason": "not asked for"}
    try:
        outcome = landlock_restrict(  # type: ignore[name-defined]  # prepended to this source
            rules["read_only"], rules["read_write"], rules["files"])
    except NameError:
        return {"applied": False, "reason": "the Landlock module is not part of this child"}
    return {"applied": bool(outcome.get("applied")), "abi": int(outcome.get("abi") or 0),
            "reason": str(outcome.get("reason", ""))}


def main():
    """Read the header: serve one session in this process, or (warm) fork a child per session."""
    # Two lines: the header (how to confine this process) comes at once, so the interpreter and
    # numpy start while the grader still plans its calls; the body (cells, calls) comes after.
    header = json.loads(sys.stdin.buffer.readline())
    if header.get("warm"):
        _zygote(header)
    else:
        _serve(header, sys.stdin.buffer.read)


def _serve(request, read_body):
    """Confine this process as the header says, read the body, then run the cells and calls."""
    # The protocol keeps the original stdout; fd 1 now joins fd 2, so stray writes never reach it.
    proto = os.dup(1)
    os.dup2(2, 1)
    sys.dont_write_bytecode = True
    _apply_limits(request["rlimits"])
    sys.path[:0] = [p for p in request["path"] if p not in sys.path]
    if request.get("seed"):
        _seed_workdir(request["seed"], request["cwd"], request["drop"])
    # Before numpy starts its BLAS threads: Landlock confines only threads started after it.
    confinement = _confine(request.get("landlock"))
    import numpy  # after the limits: numpy's own allocations count against them

    if request["drop"] is not None:
        _own_ipc_namespace()
        _drop_privileges(*request["drop"])
    os.chdir(request["cwd"])
    # As in Jupyter, modules beside the notebook (or written by %%writefile) can be imported;
    # last on the path, so that they never shadow numpy or the standard library.
    sys.path.append(request["cwd"])
    request.update(json.loads(read_body()))
    null = os.open(os.devnull, os.O_RDONLY)  # no student code can read the request again
    os.dup2(null, 0)
    os.close(null)
    sys.argv = [""]
    try:
        filtered = _block_network()
    except Exception:
        filtered = False  # no ctypes or no seccomp here: the layers' own isolation stands alone
    harness = _Harness(request, proto, numpy)
    harness.send({"t": "ready", "landlock": confinement, "seccomp": bool(filtered)})
    _READY[0] = True
    harness.run_cells()
    harness.run_calls()


def _read_stdin_fd():
    """Everything left on fd 0 (a warm child's body), without Python's buffered stdin (which
    belongs to the zygote's own stdin)."""
    parts: list = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


# ---------------------------------------------------------------- the warm process (zygote)
# As root in the namespaces layer, one process per grading worker imports numpy once and forks a
# child per session. It never receives a submission, a reference or a hidden input: only, per
# session, the header (how to confine the child) and the child's pipes. The fork ("keeper") makes
# new mount, IPC and PID namespaces and forks the session's process, which is PID 1 there (when
# it dies, the kernel kills everything it started), mounts its own size-capped /submission and
# /tmp, copies its files in, and confines itself exactly as a fresh child does (rlimits,
# Landlock, its own uid, seccomp) before any student code runs. The keeper reports how the
# session's process ended on a status pipe. After each session the zygote kills every process
# in its PID namespace but itself, so nothing of one session is left for the next.

_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 1, 2, 4, 8, 0x4000, 0x40000
_PR_SET_CHILD_SUBREAPER = 36


def _zygote(header):
    """Import numpy once, then fork a confined child per "fork" command until the socket closes."""
    import ctypes
    import socket

    sys.dont_write_bytecode = True
    sys.path[:0] = header["path"]
    # The point: every child inherits these already imported (numpy, and what a session's own
    # set-up imports: copying its files, the seccomp filter).
    import platform  # noqa: F401
    import shutil  # noqa: F401

    import numpy  # noqa: F401

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans come back here, to be reaped
    control = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    control.send(_dumps({"t": "warm", "pid": os.getpid()}).encode())
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 4)
        except OSError:
            return
        if not message:
            return  # the grader closed its end: the sandbox ends with this process
        command = json.loads(message)
        _kill_all_but_me()  # one session at a time, whatever the grader asked before
        if command.get("op") == "fork" and len(fds) == 4:
            pid = os.fork()
            if pid == 0:
                control.close()
                _keeper(libc, command["header"], fds)  # never returns
            reply = {"t": "forked"}
        else:
            reply = {"t": "stopped"}
        for fd in fds:
            os.close(fd)
        control.send(_dumps(reply).encode())


def _kill_all_but_me():
    """SIGKILL every process of this PID namespace but this one (and bwrap's init), reap them all."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _keeper(libc, header, fds):
    """In the zygote's fork: new namespaces, and their init, which runs the session's process."""
    try:
        if libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWPID) != 0:
            raise OSError(ctypes_errno(), "unshare of the session's namespaces failed")
        if os.fork() == 0:
            _session_init(libc, header, fds)  # never returns
    except BaseException as exc:
        os.write(2, f"grader warm keeper failed: {exc!r}\n".encode("utf-8", "replace"))
        os._exit(1)
    # The init is adopted by the zygote (a subreaper), which reaps it after the session.
    os._exit(0)


def _session_init(libc, header, fds):
    """PID 1 of the session's namespaces: its own /submission and /tmp, then the session's
    process (PID 2), whose end it reports; when it exits the kernel kills all the session left."""
    stdin_r, stdout_w, stderr_w, status_w = fds
    try:
        if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            raise OSError(ctypes_errno(), "could not make the mounts private")
        for target, size in header["mounts"].items():
            options = f"size={int(size)},mode=1777".encode()
            if libc.mount(b"tmpfs", target.encode(), b"tmpfs", 0, options) != 0:
                raise OSError(ctypes_errno(), f"could not mount the session's {target}")
        # A /proc of the session's own PID namespace: the zygote's (its PIDs, their counter, its
        # zombies) would tell one session what the previous one did.
        if libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None) != 0:
            raise OSError(ctypes_errno(), "could not mount the session's /proc")
        # The session's files, copied in here; then the seeds folder is covered (even its
        # entries' names and times would tell how many sessions came before).
        _seed_workdir(header["seed"], header["cwd"], header["drop"])
        header = dict(header, seed=None)
        seeds = WARM_SEEDS.encode()  # type: ignore[name-defined]  # noqa: F821  (protocol.py)
        if libc.mount(b"tmpfs", seeds, b"tmpfs", _MS_RDONLY, b"size=4k,mode=0") != 0:
            raise OSError(ctypes_errno(), "could not cover the seeds folder")
        os.setsid()  # a session and process group of its own, as a fresh child has
        # The OOM killer picks the session's processes before the zygote, which shares its cgroup.
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
        pid = os.fork()
        if pid == 0:
            for target, fd in enumerate((stdin_r, stdout_w, stderr_w)):
                os.dup2(fd, target)
            os.closerange(3, 1 << 16)  # nothing of the zygote's (its control socket) stays open
            os.chdir(header["cwd"])
            _run_guarded(lambda: _serve(header, _read_stdin_fd))
        for fd in (stdin_r, stdout_w, stderr_w):
            os.close(fd)
        while True:  # as bwrap's init does: reap every orphan (zombies count against NPROC)
            reaped, status = os.waitpid(-1, 0)
            if reaped == pid:
                break
        if os.WIFSIGNALED(status):
            report = f"signal {os.WTERMSIG(status)}"
        else:
            report = f"exit {os.waitstatus_to_exitcode(status)}"
        os.write(status_w, report.encode())
        os._exit(0)
    except BaseException as exc:
        os.write(stderr_w, f"grader warm session failed to start: {exc!r}\n".encode("utf-8", "replace"))
        os.write(status_w, f"exit {HARNESS_FAULT_EXIT}".encode())  # type: ignore[name-defined]  # noqa: F821
        os._exit(1)


def ctypes_errno():
    """The errno of the last ctypes call."""
    import ctypes

    return ctypes.get_errno()


def _run_guarded(body):
    """Run the harness; a fault of the harness itself ends the process with HARNESS_FAULT_EXIT."""
    try:
        body()
    except BaseException as exc:
        # Only harness faults land here (student faults are reported per cell or call): before
        # student code ran, for the grader's staff in full; after, only what went wrong.
        if _READY[0]:
            message = "".join(traceback.format_exception_only(type(exc), exc))
        else:
            message = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        os.write(2, f"grader child failed: {message}".encode("utf-8", "replace"))
        os._exit(HARNESS_FAULT_EXIT)  # type: ignore[name-defined]  # noqa: F821  (protocol.py)
    # os._exit: no atexit handlers, finalizers or non-daemon threads of the student run after us.
    os._exit(0)


if __name__ == "__main__":
    _run_guarded(main)
