"""Soak test (outside CI): several workers, a flaky SMTP server, a worker killed regularly.

Sets up, all on 127.0.0.1: a throwaway PostgreSQL server, a real SMTP server (aiosmtpd)
that answers 451 to a share of messages, a TCP proxy in front of it that drops a share
of connections, and WORKERS `aewatch run` daemons on one inbox. Then it drops FILES small
site exports into the inbox, each holding one new SAE, while SIGKILLing one worker every
KILL_EVERY seconds (restarted with the same worker id, so it re-claims its files).

It prints what a safety officer cares about: SAE alerts lost (a file was ingested but
no alert was ever queued for its SAE), alerts not yet delivered when the run stopped
(still queued, failed, or their file not yet ingested), duplicated deliveries (the
same Message-ID received twice: the documented price of at-least-once delivery), and
the latency from the file landing in the inbox to the
SMTP server accepting its alert (p50 / p95 / max).

    .venv/bin/python scripts/soak.py                      # 10,000 files, 4 workers
    .venv/bin/python scripts/soak.py --files 500 --kill-every 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import free_port  # noqa: E402
from support.postgres import PostgresCluster, pg_bindir  # noqa: E402

AEWATCH = str(Path(sys.executable).with_name("aewatch"))
TRIAL = "NCT06261047"


@dataclass
class FlakySmtpHandler:
    """Accepts mail, but answers 451 to a share of messages (chosen with a fixed seed)."""

    temporary_failure_share: float
    rng: random.Random
    received: list[tuple[str, float]] = field(default_factory=list)  # (Message-ID, time)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.rng.random() < self.temporary_failure_share:
                self.refused += 1
                return "451 4.3.0 try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.received.append((str(message["Message-ID"]), time.time()))
        return "250 Message accepted for delivery"


class DroppingProxy:
    """A TCP proxy that closes a share of incoming connections at once, as a flaky
    network or an overloaded mail relay does."""

    def __init__(self, upstream: int, drop_share: float, rng: random.Random) -> None:
        self.upstream, self.drop_share, self.rng = upstream, drop_share, rng
        self.port = free_port()
        self.dropped = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(timeout=10)

    async def _serve(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)

    async def _connection(self, reader: Any, writer: Any) -> None:
        if self.rng.random() < self.drop_share:
            self.dropped += 1
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def pipe(source: Any, sink: Any) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


def sae_export(subject: str, ae_id: str) -> str:
    return (
        "DOMAIN,USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AEREL,AESTDTC\n"
        f"AE,{subject},{ae_id},SEPSIS,Sepsis,4,Y,Y,POSSIBLE,2026-02-10\n"
    )


def _outbox_status(url: str, keys: list[str]) -> dict[str, str]:
    """The outbox status of each of these alerts (absent: never queued)."""
    from sqlalchemy import create_engine, select

    from aewatch.models import Alert

    if not keys:
        return {}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Alert.dedup_key, Alert.status).where(Alert.dedup_key.in_(keys))
            ).all()
    finally:
        engine.dispose()
    return {key: status for key, status in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=30.0)
    parser.add_argument("--drop-share", type=float, default=0.05)
    parser.add_argument("--fail-share", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=20.0, help="files dropped per second")
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    args = parser.parse_args()
    bindir = pg_bindir()
    if bindir is None:
        raise SystemExit("needs Debian's postgresql (make system-deps)")
    from aiosmtpd.controller import Controller

    from aewatch.alerts.outbox import message_id_for

    rng = random.Random(20261128)
    handler = FlakySmtpHandler(args.fail_share, random.Random(1))
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    proxy = DroppingProxy(smtp.port, args.drop_share, random.Random(2))
    proxy.start()
    cluster = PostgresCluster(bindir)
    cluster.start()
    workers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        # Workers may still be moving files when the run ends: they are stopped in the
        # finally below, after this folder's cleanup, which must not fail on that.
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            root = Path(tmp)
            inbox = root / "inbox"
            env = os.environ | {
                "AEWATCH_DATABASE_URL": cluster.url(),
                "AEWATCH_WORKER__INBOX": str(inbox),
                "AEWATCH_WORKER__DATA_DIR": str(root / "data"),
                "AEWATCH_WORKER__POLL_SECONDS": "0.2",
                "AEWATCH_REPORTS__OUT_DIR": str(root / "reports"),
                "AEWATCH_REPORTS__PDF": "false",
                "AEWATCH_SMTP__HOST": "127.0.0.1",
                "AEWATCH_SMTP__PORT": str(proxy.port),
                "AEWATCH_SMTP__STARTTLS": "false",
                "AEWATCH_SMTP__TIMEOUT_SECONDS": "10",
            }
            run = {"env": env, "cwd": REPO, "check": True, "capture_output": True}
            subprocess.run([AEWATCH, "init"], **run)
            subjects = [f"{s % 9 + 1:02d}-{s + 1:04d}" for s in range(500)]
            dm = root / "dm.csv"
            dm.write_text(
                "USUBJID,SITEID,RFSTDTC,RFXSTDTC\n"
                + "".join(f"{s},{s[:2]},2026-01-05,2026-01-06\n" for s in subjects)
            )
            subprocess.run([AEWATCH, "ingest", str(dm)], **run)
            subprocess.run([AEWATCH, "run", "--once"], **run)  # the monthly report, untimed

            def start(worker_id: str) -> None:
                log = (root / f"{worker_id}.log").open("ab")
                workers[worker_id] = subprocess.Popen(
                    [AEWATCH, "run"],
                    env=env | {"AEWATCH_WORKER__WORKER_ID": worker_id},
                    cwd=REPO,
                    stdout=log,
                    stderr=log,
                )

            for i in range(args.workers):
                start(f"w{i}")
            dropped_at: dict[str, float] = {}
            key_of: dict[str, str] = {}
            started = time.time()
            next_kill = started + args.kill_every
            kills = 0
            next_progress = started + 60

            def progress() -> None:
                """A line a minute, so a long run shows whether the drain keeps pace."""
                nonlocal next_progress
                if time.time() < next_progress:
                    return
                next_progress += 60
                with handler.lock:
                    delivered = len({mid for mid, _ in handler.received})
                print(
                    f"{time.time() - started:6.0f} s: {len(dropped_at)} files dropped, "
                    f"{delivered} alerts delivered, {kills} kills",
                    flush=True,
                )

            for n in range(args.files):
                subject, ae_id = subjects[n % len(subjects)], f"SAE-{n:05d}"
                key = f"sae-initial:{TRIAL}:{subject}:{ae_id}:v1"
                temp = inbox / f".sae_{n:05d}.csv.part"
                temp.write_text(sae_export(subject, ae_id))
                temp.rename(inbox / f"sae_{n:05d}.csv")
                dropped_at[message_id_for(key, TRIAL)] = time.time()
                key_of[message_id_for(key, TRIAL)] = key
                if time.time() >= next_kill:
                    victim = rng.choice(sorted(workers))
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait()
                    start(victim)
                    kills += 1
                    next_kill += args.kill_every
                progress()
                time.sleep(max(0.0, started + (n + 1) / args.rate - time.time()))
            deadline = time.time() + args.timeout
            while time.time() < deadline:
                with handler.lock:
                    got = {mid for mid, _ in handler.received}
                if set(dropped_at) <= got:
                    break
                if time.time() >= next_kill:
                    victim = rng.choice(sorted(workers))
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait()
                    start(victim)
                    kills += 1
                    next_kill += args.kill_every
                progress()
                time.sleep(0.5)
            elapsed = time.time() - started
            with handler.lock:
                received = list(handler.received)
            first: dict[str, float] = {}
            counts: dict[str, int] = {}
            for mid, at in received:
                counts[mid] = counts.get(mid, 0) + 1
                first.setdefault(mid, at)
            missing = [mid for mid in dropped_at if mid not in first]
            status = _outbox_status(cluster.url(), [key_of[mid] for mid in missing])
            queued = sum(1 for mid in missing if status.get(key_of[mid]) in {"due", "sending"})
            failed_alerts = sum(1 for mid in missing if status.get(key_of[mid]) == "failed")
            filed = {p.name.split("-", 2)[-1] for p in (inbox / "done").glob("*.csv")}
            not_ingested = sum(
                1
                for mid in missing
                if key_of[mid] not in status
                and f"sae_{int(key_of[mid].split(':')[3][4:]):05d}.csv" not in filed
            )
            lost = [
                mid
                for mid in missing
                if key_of[mid] not in status
                and f"sae_{int(key_of[mid].split(':')[3][4:]):05d}.csv" in filed
            ]
            duplicated = sum(counts[mid] - 1 for mid in dropped_at if mid in counts)
            latencies = sorted(first[mid] - dropped_at[mid] for mid in dropped_at if mid in first)
            failed = len(list((inbox / "failed").glob("*.csv")))
            if failed:
                reason = next((inbox / "failed").glob("*.reason.txt")).read_text()
                print(f"first failure: {reason.strip()}")
            print(
                f"files: {args.files}   workers: {args.workers}   kills (SIGKILL): {kills}"
                f"   elapsed: {elapsed:.0f} s"
            )
            print(
                f"SMTP: {proxy.dropped} connections dropped, {handler.refused} messages "
                f"answered 451, {len(received)} messages accepted"
            )
            print(
                f"SAE alerts lost (file ingested, no alert): {len(lost)}   duplicated "
                f"deliveries (same Message-ID): {duplicated}   files failed: {failed}"
            )
            print(
                f"not delivered when the run stopped: {len(missing)} ({queued} still queued, "
                f"{failed_alerts} failed after every attempt, {not_ingested} files not yet "
                "ingested)"
            )
            if latencies:
                p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
                print(
                    f"file-to-SMTP latency: p50 {statistics.median(latencies):.1f} s, "
                    f"p95 {p95:.1f} s, max {latencies[-1]:.1f} s"
                )
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        proxy.stop()
        smtp.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
