"""The C ABI (librdr.so) through ctypes: declarations, and the frame every
long call runs in (a worker thread, so Ctrl-C in the main thread cancels it
cleanly; ctypes releases the GIL for the whole call)."""

from __future__ import annotations

import ctypes
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from ._errors import Interrupted, error_for

_here = Path(__file__).resolve().parent


def _load() -> ctypes.CDLL:
    candidates = [os.environ.get("RDR_LIB"), str(_here / "librdr.so"), "librdr.so"]
    errors = []
    for c in candidates:
        if not c:
            continue
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append(f"{c}: {e}")
    raise OSError("cannot load librdr: " + "; ".join(errors))


lib = _load()

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int

PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)
READ_FN = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t)
WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t)


class Callbacks(ctypes.Structure):
    _fields_ = [("progress", PROGRESS_FN), ("user_data", c_void_p), ("cancel", c_void_p)]


_P = ctypes.POINTER(Callbacks)

_SIGNATURES = {
    "rdr_open": (c_void_p, [c_char_p, c_char_p]),
    "rdr_open_with_identity_file": (c_void_p, [c_char_p, c_char_p]),
    "rdr_init_with": (c_void_p, [c_char_p, c_char_p]),
    "rdr_config_json": (c_void_p, [c_void_p]),
    "rdr_identity_generate": (c_void_p, [c_char_p]),
    "rdr_close": (None, [c_void_p]),
    "rdr_string_free": (None, [c_void_p]),
    "rdr_last_error_code": (c_int, []),
    "rdr_last_error_message": (c_char_p, []),
    "rdr_version": (c_char_p, []),
    "rdr_cancel_new": (c_void_p, []),
    "rdr_cancel_request": (None, [c_void_p]),
    "rdr_cancel_free": (None, [c_void_p]),
    "rdr_backup": (c_void_p, [c_void_p, c_char_p, _P]),
    "rdr_backup_read": (c_void_p, [c_void_p, READ_FN, c_void_p, c_char_p, _P]),
    "rdr_snapshots": (c_void_p, [c_void_p, c_char_p]),
    "rdr_ls": (c_void_p, [c_void_p, c_char_p, c_char_p]),
    "rdr_restore": (c_void_p, [c_void_p, c_char_p, c_char_p, c_char_p, _P]),
    "rdr_dump": (c_void_p, [c_void_p, c_char_p, c_char_p, WRITE_FN, c_void_p, _P]),
    "rdr_forget": (c_void_p, [c_void_p, c_char_p, _P]),
    "rdr_rewrite": (c_void_p, [c_void_p, c_char_p, _P]),
    "rdr_prune": (c_void_p, [c_void_p, c_char_p, _P]),
    "rdr_check": (c_void_p, [c_void_p, c_char_p, _P]),
    "rdr_copy": (c_void_p, [c_void_p, c_void_p, c_char_p, _P]),
    "rdr_drill": (c_void_p, [c_void_p, c_char_p, _P]),
    "rdr_status": (c_void_p, [c_void_p, c_char_p]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def version() -> str:
    return lib.rdr_version().decode()


def last_error() -> Exception:
    """The error of the last failed call on this thread."""
    code = lib.rdr_last_error_code()
    message = (lib.rdr_last_error_message() or b"").decode("utf-8", "replace")
    return error_for(code, message)


def take_json(ptr: Optional[int]) -> Any:
    """Decodes and frees a JSON string returned by librdr."""
    try:
        return json.loads(ctypes.string_at(ptr).decode("utf-8"))
    finally:
        lib.rdr_string_free(ptr)


def options(values: dict) -> bytes:
    """Options as the JSON librdr takes, leaving out what was not given."""
    return json.dumps({k: v for k, v in values.items() if v is not None}).encode()


class Call:
    """One long librdr call: a cancel token, the progress callback, and the
    worker thread it runs in. Exceptions raised by Python callbacks cancel
    the call and are raised again by run()."""

    def __init__(self, progress: Optional[Callable[[dict], Any]] = None):
        self.token = lib.rdr_cancel_new()
        self.error: Optional[BaseException] = None
        self._progress = progress
        # kept referenced for as long as C may call it
        self._progress_fn = PROGRESS_FN(self._on_progress) if progress else PROGRESS_FN()
        self.callbacks = Callbacks(self._progress_fn, None, self.token)

    def _on_progress(self, event: bytes, _data: Any) -> None:
        if self.error is not None:
            return
        try:
            self._progress(json.loads(event.decode("utf-8")))  # type: ignore[misc]
        except BaseException as e:  # noqa: BLE001 - raised again by run()
            self.fail(e)

    def fail(self, e: BaseException) -> None:
        """Records an exception from a callback and cancels the call."""
        if self.error is None:
            self.error = e
        lib.rdr_cancel_request(self.token)

    def run(self, fn: Callable[..., Optional[int]], *args: Any) -> Any:
        """Runs fn(*args, &callbacks) in a worker thread and returns its
        decoded JSON report. Ctrl-C cancels it and raises Interrupted once
        rdr has stopped cleanly."""
        outcome: dict = {}

        def work() -> None:
            ptr = fn(*args, ctypes.byref(self.callbacks))
            if ptr:
                outcome["value"] = take_json(ptr)
            else:
                outcome["error"] = last_error()

        t = threading.Thread(target=work, name="rdr", daemon=True)
        try:
            t.start()
            interrupted = False
            while t.is_alive():
                try:
                    t.join(0.05)
                except KeyboardInterrupt:
                    interrupted = True
                    lib.rdr_cancel_request(self.token)
            if self.error is not None:
                raise self.error
            if interrupted:
                raise Interrupted(25, "interrupted (Ctrl-C): rdr stopped cleanly")
            if "error" in outcome:
                raise outcome["error"]
            return outcome["value"]
        finally:
            if not t.is_alive():
                lib.rdr_cancel_free(self.token)
                self.token = None
