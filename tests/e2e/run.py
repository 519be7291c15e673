#!/usr/bin/env python3
"""Runs every tests/e2e/test_*.py against the built binary.

The binary is passed with --bin and reaches the tests as PADDLEX_BIN.
Standard library only: the tests play the kube-apiserver over real TLS.
"""
import argparse
import os
import sys
import unittest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("-k", dest="pattern", default=None, help="only tests whose id contains this")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    if not os.access(args.bin, os.X_OK):
        # every test needs it: skipping them all would read as success
        print("e2e: %s is not an executable; build it first" % args.bin, file=sys.stderr)
        return 1
    os.environ["PADDLEX_BIN"] = os.path.abspath(args.bin)
    sys.path.insert(0, here)
    sys.path.insert(0, os.path.join(here, "..", "tools"))
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    if args.pattern:
        def walk(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from walk(t)
                else:
                    yield t
        suite = unittest.TestSuite(t for t in walk(suite) if args.pattern in t.id())
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors)
    print("e2e: %d passed, %d failed, %d skipped"
          % (result.testsRun - failed - len(result.skipped), failed, len(result.skipped)))
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
