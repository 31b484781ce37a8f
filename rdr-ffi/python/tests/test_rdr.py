"""The Python package against a local repository and an S3 server, through
the installed wheel (scripts/test.sh builds it and installs it into a
fresh venv before running pytest)."""

import datetime as dt
import filecmp
import io
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import rdr

PW = "py-secret"


def make(path, password=PW, **kw):
    return rdr.Repository.init(str(path), password, kdf_log_n=10, **kw)


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, cmp.report()
    for sub in cmp.common_dirs:
        same_tree(os.path.join(a, sub), os.path.join(b, sub))


def test_installed_package_is_used():
    if os.environ.get("RDR_EXPECT_INSTALLED"):
        assert "site-packages" in rdr.__file__, rdr.__file__
    assert rdr.version()
    assert os.path.exists(os.path.join(os.path.dirname(rdr.__file__), "py.typed"))


def test_errors_are_classes(tmp_path):
    loc = tmp_path / "repo"
    make(loc).close()
    with pytest.raises(rdr.WrongPassword) as e:
        rdr.Repository.open(loc, "wrong")
    assert e.value.code == 12 and "wrong password" in e.value.message
    with pytest.raises(rdr.RepositoryNotFound):
        rdr.Repository.open(tmp_path / "missing", PW)
    with pytest.raises(rdr.AlreadyExists):
        make(loc)
    with rdr.Repository.open(loc, PW) as repo:
        with pytest.raises(rdr.InvalidArgument) as e:
            repo.status(rpo="soon")
        assert "rpo" in str(e.value)
        with pytest.raises(rdr.NotFound):
            repo.restore("latest", tmp_path / "out")
    assert issubclass(rdr.Damaged, rdr.Error) and issubclass(rdr.Locked, rdr.Error)
    assert issubclass(rdr.Interrupted, KeyboardInterrupt)


def test_every_operation_locally(tmp_path, source):
    events = []
    with make(tmp_path / "repo") as repo:
        assert repo.config()["version"] >= 2
        snap = repo.backup([source], tags=["nightly"], host="py-host", excludes=["*.tmp"],
                           progress=events.append)
        assert snap.id and len(snap.id) == 64 and not snap.incomplete
        assert all(isinstance(e, dict) and "message_type" in e for e in events)
        assert any(e["message_type"] == "status" for e in events), events

        dry = repo.backup([source], dry_run=True)
        assert dry.id is None and dry.dry_run

        stream = repo.backup_stream(io.BytesIO(b"x" * 100_000 + b"end"), filename="appdb.sql",
                                    host="py-host")
        cmd = repo.backup_command(["sh", "-c", "printf from-command"], filename="cmd.out",
                                  host="py-host")
        with pytest.raises(rdr.SourceFailed):
            repo.backup_command(["sh", "-c", "exit 3"], filename="fail.out")

        snaps = repo.snapshots()
        assert [s.id for s in snaps] == [snap.id, stream.id, cmd.id]
        s0 = snaps[0]
        assert isinstance(s0.time, dt.datetime) and s0.time.tzinfo is not None
        assert s0.host == "py-host" and s0.tags == ["nightly"] and s0.paths == [str(source)]
        assert s0.summary["files_new"] == 2
        assert [s.id for s in repo.snapshots(tags="nightly")] == [snap.id]
        assert len(repo.snapshots(latest=1)) == 3

        names = {e["path"] for e in repo.ls(snap.id)}
        assert f"{source}/a.txt" in names and f"{source}/skip.tmp" not in names

        out = tmp_path / "restored"
        r = repo.restore(snap.id, out, verify=True, progress=events.append)
        assert r["files_verified"] == 2 and r["snapshot_id"] == snap.id
        (source / "skip.tmp").unlink()
        same_tree(source, str(out) + str(source))
        (out / str(source).lstrip("/") / "stray.txt").write_text("not in the snapshot")
        dry = repo.restore(snap.id, out, delete=True, dry_run=True)
        assert dry["dry_run"] and len(dry["deleted"]) == 1
        assert repo.restore(snap.id, out, overwrite="never")["files_kept"] == 2
        assert len(repo.restore(snap.id, out, delete=True)["deleted"]) == 1
        part = tmp_path / "part"
        assert repo.restore(snap.id, part, include=["*/sub/*"],
                            write_method="buffered")["bytes_direct"] == 0
        with pytest.raises(rdr.InvalidArgument):
            repo.restore(snap.id, part, write_method="io_uring")
        assert (part / str(source).lstrip("/") / "sub" / "b.bin").exists()
        assert not (part / str(source).lstrip("/") / "a.txt").exists()

        assert repo.dump(stream.id, "/appdb.sql") == b"x" * 100_000 + b"end"
        assert repo.dump(cmd.id, "/cmd.out") == b"from-command"
        sink = io.BytesIO()
        repo.dump_to(snap.id, f"{source}/a.txt", sink)
        assert sink.getvalue() == b"alpha\n"

        report = repo.check(read_data=True)
        assert report.ok and not report.damaged and report.report["packs_read"] > 0
        assert repo.check(read_data="1/2").ok

        drill = repo.drill(snap.id, rto=dt.timedelta(hours=1), scratch_dir=tmp_path)
        assert drill["passed"], drill
        status = repo.status(rpo="1h")
        assert status["healthy"], status
        assert status["last_drill"]["passed"]

        with make(tmp_path / "copy", password="other") as copy:
            c = copy.copy_from(repo, tags="nightly")
            assert len(c["copied"]) == 1
            assert [s.paths for s in copy.snapshots()] == [[str(source)]]
            assert copy.check(read_data=True).ok

        f = repo.forget(keep_last=1, group_by="host", dry_run=True)
        assert len(f["groups"][0]["remove"]) == 2 and f["prune"] is None
        f = repo.forget([cmd.id])
        assert f["removed"] == [cmd.id]
        f = repo.forget(keep_last=1, group_by="host", prune=True, instant_delete=True)
        assert f["prune"]["deleted"]["packs"] >= 0
        assert [s.id for s in repo.snapshots()] == [stream.id]
        p = repo.prune(instant_delete=True)
        assert p["dry_run"] is False
        assert repo.check(read_data=True).ok


def test_identity_file(tmp_path, source):
    ident = tmp_path / "break-glass.key"
    public = rdr.generate_identity(ident)
    assert public.startswith("age1") and oct(ident.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(rdr.LocalIOError):
        rdr.generate_identity(ident)
    with rdr.Repository.init(tmp_path / "repo", identity_file=ident) as repo:
        snap = repo.backup([source])
    with rdr.Repository.open(tmp_path / "repo", identity_file=ident) as repo:
        assert [s.id for s in repo.snapshots()] == [snap.id]
    other = tmp_path / "other.key"
    rdr.generate_identity(other)
    with pytest.raises(rdr.WrongPassword):
        rdr.Repository.open(tmp_path / "repo", identity_file=other)


def test_append_only_refuses_forget(tmp_path, source):
    with make(tmp_path / "vault", append_only=True) as repo:
        snap = repo.backup([source])
        with pytest.raises(rdr.DeletionRefused):
            repo.forget([snap.id])
        assert [s.id for s in repo.snapshots()] == [snap.id]


def test_rewrite_drops_a_path_and_prune_frees_it(tmp_path, source):
    with make(tmp_path / "repo") as repo:
        first = repo.backup([source], host="web1")
        secret = f"{source}/sub/b.bin"
        assert secret in [e["path"] for e in repo.ls(first.id)]
        with pytest.raises(rdr.InvalidArgument):
            repo.rewrite()
        dry = repo.rewrite(exclude="b.bin", dry_run=True)
        assert dry["dry_run"] and dry["rewritten"][0]["dropped"] == [secret]
        assert [s.id for s in repo.snapshots()] == [first.id]
        when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
        r = repo.rewrite([first.id], exclude=["b.bin"], new_host="web2", new_time=when,
                         forget=True)
        assert r["forgotten"] == 1 and r["rewritten"][0]["bytes_dropped"] == 300_000
        (snap,) = repo.snapshots()
        assert snap.host == "web2" and snap.time == when and "rewrite" in snap.tags
        assert secret not in [e["path"] for e in repo.ls(snap.id)]
        pruned = repo.prune(instant_delete=True)
        assert pruned["size_after"] + 300_000 <= pruned["size_before"]["bytes"], pruned
        assert repo.check(read_data=True).ok


def test_remote_s3(s3, tmp_path, source):
    loc = f"{s3}/py-{os.getpid()}"
    with rdr.Repository.init(loc, PW, kdf_log_n=10) as repo:
        snap = repo.backup([source], tags=["offsite"])
        stream = repo.backup_stream(io.BytesIO(b"remote stream"), filename="s.txt")
    with rdr.Repository.open(loc, PW) as repo:
        assert [s.id for s in repo.snapshots()] == [snap.id, stream.id]
        assert f"{source}/sub/b.bin" in {e["path"] for e in repo.ls(snap.id)}
        repo.restore(snap.id, tmp_path / "out", verify=True)
        same_tree(source, str(tmp_path / "out") + str(source))
        assert repo.dump(stream.id, "/s.txt") == b"remote stream"
        assert repo.check(read_data=True).ok
        with make(tmp_path / "local") as local:
            local.copy_from(repo)
            assert len(local.snapshots()) == 2
        assert repo.drill(snap.id, scratch_dir=tmp_path)["passed"]
        assert repo.status(rpo="1h")["healthy"]
        f = repo.forget(keep_last=1, group_by="host", prune=True, instant_delete=True)
        assert [s.id for s in repo.snapshots()] == [stream.id], f
        assert repo.prune(instant_delete=True)["dry_run"] is False
        assert repo.check(read_data=True).ok
    with pytest.raises(rdr.WrongPassword):
        rdr.Repository.open(loc, "wrong")


def test_long_calls_release_the_gil(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(os.urandom(48 << 20))
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    with make(tmp_path / "repo") as repo:
        t = threading.Thread(target=count)
        t.start()
        start = time.monotonic()
        repo.backup([big])
        end = time.monotonic()
        done.set()
        t.join()
    # the other thread ran in the middle half of the backup
    q = (end - start) / 4
    assert any(start + q < x < end - q for x in ticks), (end - start, len(ticks))


def test_progress_exception_cancels(tmp_path, source):
    def boom(_event):
        raise RuntimeError("stop here")

    with make(tmp_path / "repo") as repo:
        with pytest.raises(RuntimeError, match="stop here"):
            repo.backup([source], progress=boom)
        assert repo.snapshots() == []
        assert repo.check().ok


def test_ctrl_c_cancels_cleanly(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(os.urandom(64 << 20))
    repo = tmp_path / "repo"
    make(repo).close()
    script = textwrap.dedent(f"""
        import os, signal, sys, rdr
        sent = []
        def progress(event):
            if not sent:
                sent.append(1)
                os.kill(os.getpid(), signal.SIGINT)
        with rdr.Repository.open({str(repo)!r}, {PW!r}) as r:
            try:
                r.backup([{str(big)!r}], progress=progress)
            except rdr.Interrupted as e:
                print("interrupted:", e.message)
                sys.exit(0)
        print("not interrupted")
        sys.exit(1)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "interrupted" in run.stdout
    with rdr.Repository.open(repo, PW) as r:
        assert r.snapshots() == []
        assert r.check(read_data=True).ok
