"""Python bindings for rdr over its C ABI (ctypes, no extra dependencies).

The shared library is found through the RDR_LIB environment variable, or as
librdr.so next to this package, or on the system library path.
"""

import ctypes
import json
import os
from pathlib import Path

__all__ = ["RdrError", "Repository", "OK", "WRONG_PASSWORD", "NO_REPOSITORY", "ALREADY_EXISTS"]

OK = 0
NO_REPOSITORY = 10
LOCKED = 11
WRONG_PASSWORD = 12
ALREADY_EXISTS = 13


def _load():
    candidates = [os.environ.get("RDR_LIB"), str(Path(__file__).with_name("librdr.so")), "librdr.so"]
    errors = []
    for c in candidates:
        if not c:
            continue
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append(f"{c}: {e}")
    raise OSError("cannot load librdr: " + "; ".join(errors))


_lib = _load()
_lib.rdr_open.restype = ctypes.c_void_p
_lib.rdr_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.rdr_open_with_identity_file.restype = ctypes.c_void_p
_lib.rdr_open_with_identity_file.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.rdr_init.restype = ctypes.c_void_p
_lib.rdr_init.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
_lib.rdr_config_json.restype = ctypes.c_void_p
_lib.rdr_config_json.argtypes = [ctypes.c_void_p]
_lib.rdr_close.restype = None
_lib.rdr_close.argtypes = [ctypes.c_void_p]
_lib.rdr_string_free.restype = None
_lib.rdr_string_free.argtypes = [ctypes.c_void_p]
_lib.rdr_last_error_code.restype = ctypes.c_int
_lib.rdr_last_error_message.restype = ctypes.c_char_p


class RdrError(Exception):
    """An error from rdr, with its RDR_ERR_* code."""

    def __init__(self, code, message):
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


def _check(ptr):
    if not ptr:
        raise RdrError(_lib.rdr_last_error_code(), _lib.rdr_last_error_message().decode("utf-8", "replace"))
    return ptr


class Repository:
    """An open rdr repository. Use as a context manager or call close()."""

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def open(cls, location, password):
        return cls(_check(_lib.rdr_open(os.fsencode(location), password.encode())))

    @classmethod
    def open_with_identity_file(cls, location, identity_file):
        return cls(_check(_lib.rdr_open_with_identity_file(os.fsencode(location), os.fsencode(identity_file))))

    @classmethod
    def init(cls, location, password, kdf_log_n=0):
        return cls(_check(_lib.rdr_init(os.fsencode(location), password.encode(), kdf_log_n)))

    def config(self):
        """The repository config as a dict."""
        p = _check(_lib.rdr_config_json(self._h))
        try:
            return json.loads(ctypes.string_at(p).decode())
        finally:
            _lib.rdr_string_free(p)

    def close(self):
        if self._h:
            _lib.rdr_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
