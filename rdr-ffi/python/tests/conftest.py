"""Fixtures: a source tree, and one S3 server (rclone serve s3 on
127.0.0.1) shared by the tests of the session and stopped by PID."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (src / "skip.tmp").write_text("excluded\n")
    return src


def _rclone():
    path = os.environ.get("RDR_TEST_RCLONE") or str(ROOT / "target/test-venv/bin/rclone")
    if not os.access(path, os.X_OK):
        pytest.fail("rclone is needed for the S3 tests: run scripts/test.sh or set RDR_TEST_RCLONE")
    return path


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    data = tmp_path_factory.mktemp("s3")
    (data / "bucket").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key, secret = "pytestkey", "pytestsecret-0123456789"
    log = open(data / "rclone.log", "wb")
    proc = subprocess.Popen(
        [_rclone(), "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", f"{key},{secret}",
         "--config", "/dev/null", str(data)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("rclone serve s3 did not start: " + (data / "rclone.log").read_text())
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1")
    try:
        yield f"s3:http://127.0.0.1:{port}/bucket"
    finally:
        os.kill(proc.pid, 15)
        proc.wait(10)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(data, ignore_errors=True)
