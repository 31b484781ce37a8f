"""Builds the Python package `rdr`: its ctypes bindings (python/rdr) and
the shared library librdr.so, compiled from this workspace with cargo.

Environment:
  RDR_CARGO_PROFILE  cargo profile to build (default "release"; the test
                     suite uses "dev", already built by `cargo test`)
  RDR_LIB            use this librdr.so instead of building one
  CARGO_TARGET_DIR   where cargo puts its output (default WORKSPACE/target)
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent


def shared_library() -> Path:
    prebuilt = os.environ.get("RDR_LIB")
    if prebuilt:
        return Path(prebuilt)
    profile = os.environ.get("RDR_CARGO_PROFILE", "release")
    subprocess.run(
        ["cargo", "build", "--locked", "-p", "rdr-ffi", "--lib", "--profile", profile],
        cwd=WORKSPACE,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", WORKSPACE / "target"))
    return target / ("debug" if profile == "dev" else profile) / "librdr.so"


class BuildWithLibrary(build_py):
    """build_py, plus librdr.so next to the bindings."""

    def run(self):
        super().run()
        dest = Path(self.build_lib) / "rdr"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shared_library(), dest / "librdr.so")


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
