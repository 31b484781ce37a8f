"""rdr from Python: deduplicated, encrypted backup repositories on a local
disk, S3, SFTP or WebDAV, with copies, checks and restore drills.

    import rdr
    with rdr.Repository.open("/srv/backup", password="secret") as repo:
        snap = repo.backup(["/srv/data"], tags=["nightly"])
        repo.restore(snap.id, "/tmp/restore", verify=True)

Every call is a thin layer over rdr's C ABI (librdr.so, bundled); reports
are the JSON `rdr --json` prints, as dicts or small dataclasses. Long calls
release the GIL, so other threads keep running, and Ctrl-C cancels them
cleanly (raising `Interrupted`). Storage credentials for remote locations
come from the environment, as for the CLI (docs/backends.md).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Dict, Iterable, List, Optional, Union

from . import _lib
from ._errors import (
    AlreadyExists,
    Damaged,
    DeletionRefused,
    Error,
    Interrupted,
    InvalidArgument,
    LocalIOError,
    Locked,
    NotFound,
    RepositoryNotFound,
    SourceFailed,
    StorageError,
    WrongPassword,
)

__all__ = [
    "Repository", "Snapshot", "BackupResult", "CheckReport", "version", "generate_identity",
    "Error", "InvalidArgument", "RepositoryNotFound", "Locked", "WrongPassword",
    "AlreadyExists", "Damaged", "StorageError", "NotFound", "LocalIOError",
    "DeletionRefused", "Interrupted", "SourceFailed",
]

Progress = Optional[Callable[[Dict[str, Any]], Any]]
Duration = Union[str, _dt.timedelta, None]
PathLike = Union[str, "os.PathLike[str]"]


def version() -> str:
    """The version of the bundled librdr."""
    return _lib.version()


def generate_identity(path: PathLike) -> str:
    """Writes a new age identity to ``path`` (mode 0600, never overwriting)
    and returns its public key (``age1…``). A repository created with
    ``identity_file=path`` opens with that file instead of a password:
    keep it off-site, it is the break-glass key."""
    ptr = _lib.lib.rdr_identity_generate(os.fsencode(path))
    if not ptr:
        raise _lib.last_error()
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        _lib.lib.rdr_string_free(ptr)


def _time(text: str) -> _dt.datetime:
    """rdr's RFC 3339 times (nanoseconds, Z) as an aware datetime."""
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        n = len(rest) - len(rest.lstrip("0123456789"))
        digits = rest[:n]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    return _dt.datetime.fromisoformat(text)


def _duration(d: Duration) -> Optional[str]:
    if d is None or isinstance(d, str):
        return d
    return f"{int(d.total_seconds())}s"


def _str_list(v: Union[str, Iterable[str], None]) -> Optional[List[str]]:
    if v is None:
        return None
    return [v] if isinstance(v, str) else [str(x) for x in v]


@dataclass(frozen=True)
class Snapshot:
    """A snapshot: ``summary`` holds its counts and sizes, ``stream`` the
    stream's name, size and hash for a stream backup."""

    id: str
    short_id: str
    time: _dt.datetime
    host: str
    tags: List[str]
    paths: List[str]
    summary: Dict[str, Any]
    parent: Optional[str] = None
    stream: Optional[Dict[str, Any]] = None
    incomplete: Optional[Dict[str, Any]] = None

    @classmethod
    def _from(cls, j: Dict[str, Any]) -> "Snapshot":
        return cls(
            id=j["id"], short_id=j["short_id"], time=_time(j["time"]), host=j["hostname"],
            tags=j.get("tags") or [], paths=j.get("paths") or [], summary=j.get("summary") or {},
            parent=j.get("parent"), stream=j.get("stream"), incomplete=j.get("incomplete"),
        )


@dataclass(frozen=True)
class BackupResult:
    """What a backup stored: ``id`` is None in a dry run; ``incomplete`` is
    True when some entries could not be read (``warnings`` names them)."""

    id: Optional[str]
    short_id: Optional[str]
    dry_run: bool
    incomplete: bool
    warnings: List[str]
    report: Dict[str, Any] = field(repr=False)

    @classmethod
    def _from(cls, j: Dict[str, Any]) -> "BackupResult":
        sid = j.get("snapshot_id")
        return cls(
            id=sid, short_id=sid[:8] if sid else None, dry_run=j["dry_run"],
            incomplete=j["incomplete"], warnings=j.get("warnings") or [], report=j,
        )


@dataclass(frozen=True)
class CheckReport:
    """The outcome of a check: ``ok`` is False when damage was found;
    ``damaged`` lists each damaged blob with the snapshots and paths that
    need it."""

    ok: bool
    errors: List[str]
    warnings: List[str]
    damaged: List[Dict[str, Any]]
    report: Dict[str, Any] = field(repr=False)


class Repository:
    """An open repository. Use it as a context manager, or call close().

    A repository may be used from several threads at once; rdr's locks
    order writers, as between processes."""

    def __init__(self, handle: int):
        self._h: Optional[int] = handle

    # -- opening ---------------------------------------------------------

    @classmethod
    def open(cls, location: PathLike, password: Optional[str] = None, *,
             identity_file: Optional[PathLike] = None) -> "Repository":
        """Opens the repository at ``location`` (a path, or ``s3:…``,
        ``sftp:…``, ``webdav:…``) with a password or an age identity file."""
        loc = os.fsencode(location)
        if (password is None) == (identity_file is None):
            raise InvalidArgument(2, "give a password or an identity_file")
        if identity_file is not None:
            h = _lib.lib.rdr_open_with_identity_file(loc, os.fsencode(identity_file))
        else:
            h = _lib.lib.rdr_open(loc, password.encode())  # type: ignore[union-attr]
        if not h:
            raise _lib.last_error()
        return cls(h)

    @classmethod
    def init(cls, location: PathLike, password: Optional[str] = None, *,
             identity_file: Optional[PathLike] = None, recipients: Optional[List[str]] = None,
             kdf_log_n: Optional[int] = None, append_only: bool = False,
             compression: Optional[int] = None, pack_size: Optional[str] = None) -> "Repository":
        """Creates a repository and returns it open. Its key opens with the
        password, or with the age identity file (or the ``recipients``'
        identities). ``append_only``: rdr will never delete from it."""
        opts = _lib.options({
            "password": password,
            "identity_file": os.fspath(identity_file) if identity_file is not None else None,
            "recipients": recipients, "kdf_log_n": kdf_log_n, "append_only": append_only,
            "compression": compression, "pack_size": pack_size,
        })
        h = _lib.lib.rdr_init_with(os.fsencode(location), opts)
        if not h:
            raise _lib.last_error()
        return cls(h)

    def close(self) -> None:
        """Closes the repository (idempotent)."""
        if self._h:
            _lib.lib.rdr_close(self._h)
            self._h = None

    def __enter__(self) -> "Repository":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def _handle(self) -> int:
        if not self._h:
            raise InvalidArgument(2, "the repository is closed")
        return self._h

    def _quick(self, fn: Callable[..., Optional[int]], *args: Any) -> Any:
        ptr = fn(self._handle, *args)
        if not ptr:
            raise _lib.last_error()
        return _lib.take_json(ptr)

    def config(self) -> Dict[str, Any]:
        """The repository's config: id, version, chunker, compression, …"""
        return self._quick(_lib.lib.rdr_config_json)

    # -- backup ----------------------------------------------------------

    def backup(self, paths: Iterable[PathLike], *, tags: Optional[List[str]] = None,
               host: Optional[str] = None, excludes: Optional[List[str]] = None,
               iexcludes: Optional[List[str]] = None, exclude_caches: bool = False,
               exclude_if_present: Optional[List[str]] = None,
               exclude_larger_than: Optional[str] = None, one_file_system: bool = False,
               parent: Optional[str] = None, force: bool = False, dry_run: bool = False,
               time: Optional[str] = None, progress: Progress = None) -> BackupResult:
        """Backs up files and folders. ``progress`` is called with each
        progress event (a dict, as ``rdr --json`` prints them)."""
        opts = _lib.options({
            "paths": [os.fspath(p) for p in paths], "tags": tags, "host": host,
            "exclude": excludes, "iexclude": iexcludes, "exclude_caches": exclude_caches,
            "exclude_if_present": exclude_if_present, "exclude_larger_than": exclude_larger_than,
            "one_file_system": one_file_system, "parent": parent, "force": force,
            "dry_run": dry_run, "time": time,
        })
        call = _lib.Call(progress)
        return BackupResult._from(call.run(_lib.lib.rdr_backup, self._handle, opts))

    def backup_command(self, command: List[str], *, filename: str, tags: Optional[List[str]] = None,
                       host: Optional[str] = None, progress: Progress = None) -> BackupResult:
        """Backs up the output of a command (e.g. ``["pg_dump", "-Fc", "app"]``)
        as one file; a command that exits non-zero raises SourceFailed and
        stores no snapshot."""
        opts = _lib.options({"command": command, "filename": filename, "tags": tags, "host": host})
        call = _lib.Call(progress)
        return BackupResult._from(call.run(_lib.lib.rdr_backup, self._handle, opts))

    def backup_stream(self, fileobj: BinaryIO, *, filename: str = "stdin",
                      tags: Optional[List[str]] = None, host: Optional[str] = None,
                      progress: Progress = None) -> BackupResult:
        """Backs up everything readable from a binary file object (a file,
        a pipe, ``io.BytesIO``, a socket's makefile) as one file."""
        call = _lib.Call(progress)
        readinto = getattr(fileobj, "readinto", None)

        def read(_data: Any, buf: Any, size: int) -> int:
            try:
                if readinto is not None:
                    view = memoryview((ctypes.c_ubyte * size).from_address(ctypes.addressof(buf.contents)))
                    n = readinto(view.cast("B"))
                    return n or 0
                chunk = fileobj.read(size)
                ctypes.memmove(buf, chunk, len(chunk))
                return len(chunk)
            except BaseException as e:  # noqa: BLE001 - raised again by run()
                call.fail(e)
                return -1

        read_fn = _lib.READ_FN(read)
        opts = _lib.options({"filename": filename, "tags": tags, "host": host})
        return BackupResult._from(call.run(_lib.lib.rdr_backup_read, self._handle, read_fn, None, opts))

    # -- looking -----------------------------------------------------------

    def snapshots(self, *, host: Union[str, List[str], None] = None,
                  tags: Union[str, List[str], None] = None,
                  path: Union[str, List[str], None] = None,
                  latest: Optional[int] = None) -> List[Snapshot]:
        """The snapshots, oldest first (``latest``: the newest N per host
        and paths). ``tags``: each entry is a comma-separated set that must
        all be present; any entry matches."""
        opts = _lib.options({"host": _str_list(host), "tags": _str_list(tags),
                             "path": _str_list(path), "latest": latest,
                             "group_by": "host,paths" if latest else None})
        j = self._quick(_lib.lib.rdr_snapshots, opts)
        if latest:
            j = [s for g in j for s in g["snapshots"]]
            j.sort(key=lambda s: s["time"])
        return [Snapshot._from(s) for s in j]

    def ls(self, snapshot: str = "latest", path: str = "/", *, recursive: bool = True) -> List[Dict[str, Any]]:
        """The entries of a snapshot under ``path``, as dicts (path, type,
        mode, size, mtime, …)."""
        opts = _lib.options({"path": path, "recursive": recursive})
        return self._quick(_lib.lib.rdr_ls, snapshot.encode(), opts)

    # -- getting data back -------------------------------------------------

    def restore(self, snapshot: str, target: PathLike, *, include: Optional[List[str]] = None,
                exclude: Optional[List[str]] = None, verify: bool = False,
                overwrite: Optional[str] = None, delete: bool = False, dry_run: bool = False,
                write_method: Optional[str] = None,
                progress: Progress = None) -> Dict[str, Any]:
        """Restores a snapshot (an id, a prefix, ``"latest"``, or
        ``"ID:subfolder"``) into ``target``; ``verify`` reads every
        restored file back. ``overwrite``: "always", "if-changed" (the
        default), "if-newer" or "never"; ``delete`` removes what the
        snapshot does not have; ``dry_run`` changes nothing and reports
        what would happen. ``write_method``: "auto" (the default), "buffered"
        or "direct" (large files past the page cache). Returns the restore
        report."""
        opts = _lib.options({"include": include, "exclude": exclude, "verify": verify,
                             "overwrite": overwrite, "delete": delete, "dry_run": dry_run,
                             "write_method": write_method})
        call = _lib.Call(progress)
        return call.run(_lib.lib.rdr_restore, self._handle, snapshot.encode(),
                        os.fsencode(target), opts)

    def dump_to(self, snapshot: str, path: str, fileobj: BinaryIO) -> Dict[str, Any]:
        """Streams one file of a snapshot (a folder: as tar) into a binary
        file object; for large files."""
        call = _lib.Call()

        def write(_data: Any, buf: Any, size: int) -> int:
            try:
                fileobj.write(ctypes.string_at(buf, size))
                return 0
            except BaseException as e:  # noqa: BLE001 - raised again by run()
                call.fail(e)
                return 1

        write_fn = _lib.WRITE_FN(write)
        return call.run(_lib.lib.rdr_dump, self._handle, snapshot.encode(), path.encode(), write_fn, None)

    def dump(self, snapshot: str, path: str) -> bytes:
        """One file of a snapshot, as bytes."""
        import io

        buf = io.BytesIO()
        self.dump_to(snapshot, path, buf)
        return buf.getvalue()

    # -- retention and maintenance ------------------------------------------

    def forget(self, snapshots: Optional[List[str]] = None, *,
               keep_last: Union[int, str, None] = None, keep_hourly: Union[int, str, None] = None,
               keep_daily: Union[int, str, None] = None, keep_weekly: Union[int, str, None] = None,
               keep_monthly: Union[int, str, None] = None, keep_yearly: Union[int, str, None] = None,
               keep_within: Optional[str] = None, keep_tag: Optional[List[str]] = None,
               group_by: Optional[str] = None, host: Union[str, List[str], None] = None,
               tags: Union[str, List[str], None] = None, path: Union[str, List[str], None] = None,
               dry_run: bool = False, prune: bool = False, instant_delete: bool = False,
               progress: Progress = None) -> Dict[str, Any]:
        """Removes the given snapshots, or those a retention policy does not
        keep (per group, default host and paths); with ``prune``, also
        deletes the data no snapshot needs any more."""
        opts = _lib.options({
            "snapshots": snapshots, "keep_last": keep_last, "keep_hourly": keep_hourly,
            "keep_daily": keep_daily, "keep_weekly": keep_weekly, "keep_monthly": keep_monthly,
            "keep_yearly": keep_yearly, "keep_within": keep_within, "keep_tag": keep_tag,
            "group_by": group_by, "host": _str_list(host), "tags": _str_list(tags),
            "path": _str_list(path), "dry_run": dry_run, "prune": prune,
            "instant_delete": instant_delete,
        })
        return _lib.Call(progress).run(_lib.lib.rdr_forget, self._handle, opts)

    def rewrite(self, snapshots: Optional[List[str]] = None, *,
                exclude: Union[str, List[str], None] = None,
                iexclude: Union[str, List[str], None] = None,
                new_host: Optional[str] = None, new_time: Optional[_dt.datetime] = None,
                host: Union[str, List[str], None] = None, tags: Union[str, List[str], None] = None,
                path: Union[str, List[str], None] = None, forget: bool = False,
                dry_run: bool = False, progress: Progress = None) -> Dict[str, Any]:
        """Drops the paths matching ``exclude`` (backup's patterns) from the
        given snapshots, or from all that match the filters, and records
        ``new_host``/``new_time`` when given. Each changed snapshot is saved
        anew, tagged "rewrite"; with ``forget`` the original is removed, and
        a following :meth:`prune` frees the dropped data."""
        when = None
        if new_time is not None:
            if new_time.tzinfo is not None:
                new_time = new_time.astimezone(_dt.timezone.utc)
            when = new_time.strftime("%Y-%m-%d %H:%M:%S")
        opts = _lib.options({
            "snapshots": snapshots, "exclude": _str_list(exclude), "iexclude": _str_list(iexclude),
            "new_host": new_host, "new_time": when, "host": _str_list(host),
            "tags": _str_list(tags), "path": _str_list(path), "forget": forget, "dry_run": dry_run,
        })
        return _lib.Call(progress).run(_lib.lib.rdr_rewrite, self._handle, opts)

    def prune(self, *, max_unused: Optional[str] = None, grace: Duration = None,
              instant_delete: bool = False, dry_run: bool = False,
              progress: Progress = None) -> Dict[str, Any]:
        """Deletes data no snapshot needs (after the grace period, or at
        once with ``instant_delete`` when nothing else writes)."""
        opts = _lib.options({"max_unused": max_unused, "grace": _duration(grace),
                             "instant_delete": instant_delete, "dry_run": dry_run})
        return _lib.Call(progress).run(_lib.lib.rdr_prune, self._handle, opts)

    def check(self, *, read_data: Union[bool, str] = False, progress: Progress = None) -> CheckReport:
        """Checks the repository; ``read_data`` (True, or a subset such as
        "1/5" or "10%") also reads and authenticates the data."""
        j = _lib.Call(progress).run(_lib.lib.rdr_check, self._handle,
                                    _lib.options({"read_data": read_data}))
        return CheckReport(ok=j["ok"], errors=j["errors"], warnings=j["warnings"],
                           damaged=j["damaged"], report=j)

    # -- recovery -------------------------------------------------------------

    def copy_from(self, source: "Repository", snapshots: Optional[List[str]] = None, *,
                  host: Union[str, List[str], None] = None, tags: Union[str, List[str], None] = None,
                  path: Union[str, List[str], None] = None, dry_run: bool = False,
                  progress: Progress = None) -> Dict[str, Any]:
        """Copies snapshots from ``source`` into this repository (all, or
        the given ids, or those matching the filters); snapshots already
        here are skipped."""
        opts = _lib.options({"snapshots": snapshots, "host": _str_list(host),
                             "tags": _str_list(tags), "path": _str_list(path), "dry_run": dry_run})
        return _lib.Call(progress).run(_lib.lib.rdr_copy, self._handle, source._handle, opts)

    def drill(self, snapshot: str = "latest", *, host: Union[str, List[str], None] = None,
              tags: Union[str, List[str], None] = None, path: Union[str, List[str], None] = None,
              rto: Duration = None, health_cmd: Optional[str] = None,
              health_timeout: Duration = None, scratch_dir: Optional[PathLike] = None,
              keep: bool = False, progress: Progress = None) -> Dict[str, Any]:
        """A restore drill: restores the snapshot into scratch space,
        verifies it, runs ``health_cmd``, measures the time against ``rto``
        and records the drill. ``result["passed"]`` says whether it passed."""
        opts = _lib.options({
            "snapshot": snapshot, "host": _str_list(host), "tags": _str_list(tags),
            "path": _str_list(path), "rto": _duration(rto), "health_cmd": health_cmd,
            "health_timeout": _duration(health_timeout),
            "scratch_dir": os.fspath(scratch_dir) if scratch_dir is not None else None,
            "keep": keep,
        })
        return _lib.Call(progress).run(_lib.lib.rdr_drill, self._handle, opts)

    def status(self, *, rpo: Duration = None, check_max_age: Duration = None,
               drill_max_age: Duration = None, group_by: Optional[str] = None) -> Dict[str, Any]:
        """Freshness of each group against ``rpo``, and the last check and
        drill; ``result["healthy"]`` is False when anything is out of policy."""
        opts = _lib.options({"rpo": _duration(rpo), "check_max_age": _duration(check_max_age),
                             "drill_max_age": _duration(drill_max_age), "group_by": group_by})
        return self._quick(_lib.lib.rdr_status, opts)
