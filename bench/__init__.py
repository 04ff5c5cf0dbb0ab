"""Benchmarks (bench/README.md).

Every benchmark process, and the gunicorn it starts, signs audit rows with one key of its own
(adapters/db/macs.py), so a database copied from the dataset cache keeps its rows valid: the
gate then reads the thresholds the dataset was built with, not the defaults.
"""

import os

AUDIT_KEY = "bench-only-audit-key-0123456789abcdef"
os.environ["CREDITGATE_AUDIT_KEY"] = AUDIT_KEY
os.environ.pop("CREDITGATE_AUDIT_KEY_FILE", None)
