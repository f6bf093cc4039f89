"""A large mbox is planned in bounded memory (issue 33, item 4): `migrate plan` of a 250 MB mbox in a
process whose data segment may not exceed 150 MB. A reader that loads or copies whole files (the
one before: read_bytes() and every message's bytes kept) fails here; time stays in the benchmark
(benchmarks/migrate_large.py), never in a test."""

import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from migrate_large import write_mbox  # noqa: E402

LIMIT = 150 << 20


def test_a_mbox_larger_than_the_memory_allowed_is_planned(tmp_path):
    (tmp_path / "user").mkdir()
    size = write_mbox(tmp_path / "user" / "INBOX", 80_000)
    assert size > LIMIT * 1.5

    def limited():
        resource.setrlimit(resource.RLIMIT_DATA, (LIMIT, LIMIT))

    run = subprocess.run(["imapwright", "migrate", "plan", str(tmp_path)], capture_output=True, text=True,
                         timeout=300, preexec_fn=limited)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "1 users, 80000 messages, 0 problems"
