"""Alert latency: a file with 1 SAE dropped into the inbox → the email arrives at a real
SMTP server (aiosmtpd on 127.0.0.1). 50 drops against `aewatch run` with a 1-second poll.

Target (issue 5): p95 ≤ 1.5 s. Prints p50/p95/max; asserts nothing.
Run: .venv/bin/python bench/bench_alert_latency.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[1]
DROPS = 50
DM = "STUDYID,USUBJID,SITEID,RFXSTDTC\nNCT06261047,01-001,01,2026-01-10\n"
AE = (
    "STUDYID,USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC\n"
    "NCT06261047,01-001,AE-{n},ASCITES,Ascites,3,Y,Y,POSSIBLE,2026-02-{day:02d}\n"
)


class Recorder:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.event = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.event:
            self.arrivals[str(message["X-Aewatch-Alert"])] = time.perf_counter()
            self.event.notify_all()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inbox = root / "inbox"
        inbox.mkdir()
        env = {
            **os.environ,
            "AEWATCH_CONFIG": str(REPO / "config" / "nct06261047.toml"),
            "AEWATCH_DATABASE_URL": f"sqlite:///{root / 'bench.sqlite'}",
            "AEWATCH_WORKER__INBOX": str(inbox),
            "AEWATCH_WORKER__POLL_SECONDS": "1",
            "AEWATCH_SMTP__HOST": "127.0.0.1",
            "AEWATCH_SMTP__PORT": str(port),
            "AEWATCH_SMTP__STARTTLS": "false",
            "AEWATCH_REPORTS__DSMB_DAY_OF_MONTH": "28",
            "AEWATCH_REPORTS__OUT_DIR": str(root / "reports"),
        }
        aewatch = [sys.executable, "-m", "aewatch.cli"]
        subprocess.run([*aewatch, "init"], env=env, check=True, capture_output=True)
        (inbox / "dm.csv").write_text(DM)
        worker = subprocess.Popen([*aewatch, "run"], env=env, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)  # DM ingested, worker idle and polling
            latencies = []
            for n in range(1, DROPS + 1):
                staging = root / f"ae_{n}.csv.part"
                staging.write_text(AE.format(n=n, day=1 + n % 27))
                key = f"sae-initial:NCT06261047:01-001:AE-{n}:v1"
                dropped = time.perf_counter()
                os.rename(staging, inbox / f"ae_{n}.csv")  # sites should drop files atomically
                with recorder.event:
                    recorder.event.wait_for(lambda key=key: key in recorder.arrivals, timeout=30)
                latencies.append(recorder.arrivals[key] - dropped)
                time.sleep(0.37 * (n % 3))  # drops at different phases of the poll
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            controller.stop()
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * len(latencies)) - 1]
    print(f"drops: {len(latencies)}, poll 1 s: p50 {p50:.2f} s, p95 {p95:.2f} s, "
          f"max {latencies[-1]:.2f} s (target p95 <= 1.5 s)")


if __name__ == "__main__":
    main()
