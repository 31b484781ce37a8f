"""rdr's errors, one class per RDR_ERR_* code of the C ABI."""

from __future__ import annotations


class Error(Exception):
    """An error reported by rdr. ``code`` is the RDR_ERR_* code of the C
    ABI, ``message`` rdr's message (it names the object concerned)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidArgument(Error, ValueError):
    """An option rdr does not accept (unknown key, bad duration, …)."""


class RepositoryNotFound(Error):
    """No repository at the location."""


class Locked(Error):
    """Another process holds a lock that excludes this operation."""


class WrongPassword(Error):
    """No key of the repository opens with the password or identity."""


class AlreadyExists(Error):
    """A repository already exists at the location."""


class Damaged(Error):
    """Repository data is corrupt (it failed to decode or authenticate)."""


class StorageError(Error):
    """The storage (disk, S3, SFTP, WebDAV, …) failed."""


class NotFound(Error, LookupError):
    """A snapshot, path or object that was named does not exist."""


class LocalIOError(Error):
    """Local I/O failed: a source, a restore target, a stream."""


class DeletionRefused(Error):
    """The repository is append-only or the storage may not delete:
    nothing was changed."""


class Interrupted(Error, KeyboardInterrupt):
    """The operation was cancelled (Ctrl-C); what was stored before stays
    valid. It is also a KeyboardInterrupt, so an unhandled Ctrl-C still
    ends the program."""


class SourceFailed(Error):
    """The data source failed: a backup command exited non-zero."""


_BY_CODE = {
    2: InvalidArgument,
    10: RepositoryNotFound,
    11: Locked,
    12: WrongPassword,
    13: AlreadyExists,
    20: Damaged,
    21: StorageError,
    22: NotFound,
    23: LocalIOError,
    24: DeletionRefused,
    25: Interrupted,
    26: SourceFailed,
}


def error_for(code: int, message: str) -> Error:
    """The exception for an RDR_ERR_* code."""
    return _BY_CODE.get(code, Error)(code, message)
