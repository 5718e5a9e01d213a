"""A write whose future has resolved survives the process being killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from callcenter.store import Store

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from callcenter.store import CallDirection, CdrRecord, Disposition, Store

    store = Store.open(Path(sys.argv[1]))
    n = 0
    while True:  # write until killed; report each batch once committed
        futures = []
        for _ in range(25):
            n += 1
            futures.append(store.write_cdr(CdrRecord(
                call_id=f"call-{n}", caller="1001", callee="1002",
                direction=CallDirection.INTERNAL, start_time=float(n), end_time=n + 1.0,
                duration_s=1.0, billsec_s=0.0, disposition=Disposition.NO_ANSWER,
            )))
        ids = [future.result() for future in futures]
        print(" ".join(map(str, ids)), flush=True)
    """
)


@pytest.mark.integration
def test_committed_cdrs_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    committed: list[int] = []
    try:
        assert child.stdout is not None
        while len(committed) < 500:
            line = child.stdout.readline()
            assert line, "the writer process ended early"
            committed += [int(word) for word in line.split()]
        os.kill(child.pid, signal.SIGKILL)  # while it keeps writing
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with Store.open(path) as store:
        found = {record.id for record in store.query_cdrs(limit=1_000_000)}
    assert set(committed) <= found
