"""`aewatch serve` as an operator runs it: a real process, on loopback by default, that
refuses to start without its secret and stops cleanly on SIGTERM; and no other command
pays for the web stack at start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from support import CONFIG, free_port, wait_for
from support.web import SECRET


def env_for(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEWATCH_")}
    return {
        **env,
        "AEWATCH_CONFIG": str(CONFIG),
        "AEWATCH_DATABASE_URL": db_url,
        "AEWATCH_WORKER__DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


def test_serve_refuses_to_start_without_the_secret(sqlite_url, tmp_path, monkeypatch) -> None:
    from aewatch.cli import app

    for key, value in env_for(sqlite_url, tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AEWATCH_WEB_SECRET", raising=False)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "AEWATCH_WEB_SECRET is not set" in result.output


def test_run_refuses_to_start_with_links_on_and_no_secret(
    sqlite_url, tmp_path, monkeypatch
) -> None:
    from aewatch.cli import app

    for key, value in env_for(
        sqlite_url, tmp_path, AEWATCH_WEB__BASE_URL="https://aewatch.example"
    ).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AEWATCH_WEB_SECRET", raising=False)
    result = CliRunner().invoke(app, ["run", "--once"])
    assert result.exit_code == 2
    assert "[web].base_url is set but AEWATCH_WEB_SECRET is not set" in result.output


def test_serve_listens_on_loopback_answers_and_stops_cleanly_on_sigterm(
    sqlite_url, tmp_path
) -> None:
    """The process, not the database, is under test here: SQLite only."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aewatch.cli", "serve", "--port", str(port)],
        env=env_for(sqlite_url, tmp_path, AEWATCH_WEB_SECRET=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok\n"
            except httpx.HTTPError:
                return False

        assert wait_for(healthy, 60), process.stderr.read() if process.poll() else "not up"
        listening = _listening_addresses(port)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert f"aewatch serve on http://127.0.0.1:{port}" in stderr
    assert listening in ([], ["127.0.0.1"])  # [] where /proc/net/tcp cannot be read
    assert SECRET not in stderr


def _listening_addresses(port: int) -> list[str]:
    """Local addresses with a listening TCP socket on ``port`` (Linux /proc/net/tcp)."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        return []
    found = []
    for line in table.read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.append(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_no_other_command_imports_the_web_stack() -> None:
    code = (
        "import sys\n"
        "from aewatch.cli import app\n"
        "import aewatch.alerts.sender, aewatch.worker\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'starlette', 'uvicorn', 'httpx', 'anyio', 'h11'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
