"""Runs one server test module (python3 run_suite.py test_api); exits 77 (ctest: skipped), saying why, when a
PyPI package of tests/requirements.txt that the suites import is missing (scripts/setup could not reach PyPI)."""
import importlib.util
import sys
import unittest

NEEDED = ["openai", "requests", "jsonschema", "selenium"]

missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if missing:
    print(f"{sys.argv[1]}: SKIPPED: Python packages missing: {', '.join(missing)} "
          "(scripts/setup installs tests/requirements.txt into .venv when PyPI is reachable)")
    sys.exit(77)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
program = unittest.main(module=sys.argv[1], argv=[sys.argv[0], "-v"], exit=False)
sys.exit(0 if program.result.wasSuccessful() else 1)
