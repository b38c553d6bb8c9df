"""`retailpipe demo`: the whole pipeline on one machine, started and stopped with one command."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from retailpipe.cli.state import state
from retailpipe.console import console
from retailpipe.errors import RetailpipeError, ServiceError

log = logging.getLogger(__name__)

EPILOG = """Examples:

  retailpipe demo                      # Ctrl-C stops everything it started

  retailpipe demo --days 7 --port 8060 --speed 1200

  retailpipe demo --duration 120       # stop by itself after two minutes
"""


class Stack:
    """The processes the demo started, stopped in reverse order on exit."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.kafka_started = False

    def run(self, name: str, *args: str) -> None:
        """Run one retailpipe command to completion; fail with its last log line."""
        console.print(f"[bold]>[/] retailpipe {' '.join(args)}")
        log_path = self.logs / f"{name}.log"
        with log_path.open("wb") as out:
            code = subprocess.call(_cli(*args), env=self.env, stdout=out, stderr=subprocess.STDOUT)
        if code != 0:
            raise RetailpipeError(
                f"`retailpipe {' '.join(args)}` failed: {_last_line(log_path)}",
                f"see {log_path}",
            )

    def start(self, name: str, *args: str) -> None:
        """Start a long-running retailpipe command in its own process group."""
        console.print(f"[bold]>[/] retailpipe {' '.join(args)} &")
        out = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            _cli(*args), env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((name, proc))

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise ServiceError(
                    f"the demo's {name} process exited with code {proc.returncode}: "
                    f"{_last_line(self.logs / f'{name}.log')}",
                    f"see {self.logs / f'{name}.log'}",
                )

    def stop(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                log.info("stopping %s", name)
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        if self.kafka_started:
            subprocess.call(_cli("kafka", "down"), env=self.env, stdout=subprocess.DEVNULL)
            self.kafka_started = False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "retailpipe", *args]


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1].strip() if lines else "no output"


def demo(
    ctx: typer.Context,
    days: int = typer.Option(7, "--days", help="Days of data to generate."),
    rows_per_day: int = typer.Option(5000, "--rows-per-day", help="Average lines per day."),
    port: int | None = typer.Option(None, "--port", help="Dashboard port (default: serve.port)."),
    speed: float = typer.Option(600.0, "--speed", help="Replay pace: trading seconds per second."),
    duration: float | None = typer.Option(
        None,
        "--duration",
        help="Stop by itself after this many seconds (default: run until Ctrl-C).",
    ),
    skip_batch: bool = typer.Option(False, "--skip-batch", help="Do not run the batch job."),
) -> None:
    """Run the whole pipeline locally: Kafka, generate, batch, stream, replay and both dashboards.

    Needs only Python and Java. Ctrl-C (or SIGTERM) stops every process it started.
    """
    app_state = state(ctx)
    settings = app_state.settings({"serve.port": port})
    env = dict(os.environ)
    if app_state.config_file:
        env["RETAILPIPE_CONFIG"] = str(app_state.config_file)
    runtime = Path(settings.runtime_dir)
    logs = runtime / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(env, logs)

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        stack.run("kafka-up", "kafka", "up")
        stack.kafka_started = True
        stack.run(
            "generate",
            "generate",
            "--days",
            str(days),
            "--rows-per-day",
            str(rows_per_day),
            "--force",
        )
        if not skip_batch:
            stack.run("batch", "batch")
        # A topic of its own per demo run: the stream starts from its beginning (no event is
        # missed while Spark starts) and never sees an earlier demo's events.
        topic = f"{settings.kafka.topic}.demo-{time.strftime('%Y%m%dT%H%M%S')}"
        stack.start(
            "stream", "stream", "--topic", topic, "--starting-offsets", "earliest", "--reset"
        )
        if not skip_batch:
            # The generated days as they happened, first: the hours `reconcile` compares
            # with the batch at the end. The live replay below moves its events to now.
            stack.run("replay-history", "replay", "--topic", topic, "--max")
        stack.start(
            "replay", "replay", "--topic", topic, "--speed", str(speed), "--shift-to-now", "--loop"
        )
        stack.start("serve", "serve", "all", "--port", str(settings.serve.port))
        base = f"http://{settings.serve.host}:{settings.serve.port}"
        console.print(
            f"\n[bold green]retailpipe demo is running[/]\n"
            f"  batch dashboard:  {base}/batch/\n"
            f"  stream dashboard: {base}/stream/\n"
            f"  logs:             {logs}\n"
            "Press Ctrl-C to stop everything."
        )
        started = time.monotonic()
        while duration is None or time.monotonic() - started < duration:
            time.sleep(1)
            stack.check_alive()
    except KeyboardInterrupt:
        console.print("\nstopping the demo ...")
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
    console.print("demo stopped; every process it started has ended.")
    if not skip_batch:
        console.print(reconcile_line(env, logs))


def reconcile_line(env: dict[str, str], logs: Path) -> str:
    """`retailpipe reconcile` over what the demo's batch and stream published, in one line."""
    from retailpipe.cli.reconcile import summary_line

    done = subprocess.run(
        _cli("--quiet", "reconcile", "--json"), env=env, capture_output=True, text=True
    )
    (logs / "reconcile.log").write_text(done.stdout + done.stderr)
    try:
        return summary_line(json.loads(done.stdout))
    except ValueError:
        return f"reconcile: {_last_line(logs / 'reconcile.log')}"
