"""Tests of the Python bindings; run by rdr-ffi/tests/abi.rs with RDR_LIB set."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import rdr  # noqa: E402


class RepositoryTests(unittest.TestCase):
    def test_init_open_config(self):
        with tempfile.TemporaryDirectory() as d:
            loc = os.path.join(d, "repo")
            with rdr.Repository.init(loc, "py-secret", kdf_log_n=10) as r:
                cfg = r.config()
            self.assertEqual(cfg["version"], 2)
            with rdr.Repository.open(loc, "py-secret") as r:
                self.assertEqual(r.config()["id"], cfg["id"])

    def test_errors(self):
        with tempfile.TemporaryDirectory() as d:
            loc = os.path.join(d, "repo")
            rdr.Repository.init(loc, "pw", kdf_log_n=10).close()
            with self.assertRaises(rdr.RdrError) as e:
                rdr.Repository.open(loc, "wrong")
            self.assertEqual(e.exception.code, rdr.WRONG_PASSWORD)
            self.assertIn("wrong password", e.exception.message)
            with self.assertRaises(rdr.RdrError) as e:
                rdr.Repository.open(os.path.join(d, "missing"), "pw")
            self.assertEqual(e.exception.code, rdr.NO_REPOSITORY)
            with self.assertRaises(rdr.RdrError) as e:
                rdr.Repository.init(loc, "pw", kdf_log_n=10)
            self.assertEqual(e.exception.code, rdr.ALREADY_EXISTS)


if __name__ == "__main__":
    unittest.main()
