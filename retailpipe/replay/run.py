"""The replay loop: parsed rows -> paced, idempotent, acknowledged Kafka events, and a summary."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from retailpipe.errors import InputError
from retailpipe.progress import progress
from retailpipe.replay import client
from retailpipe.replay.events import encode, event
from retailpipe.replay.source import Row, Skipped, Source, read_source
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

Mode = Literal["max", "speed", "rate"]
# Longest single wait, so Ctrl-C / SIGTERM and delivery callbacks are served promptly.
MAX_WAIT_S = 0.2
REPORT_EVERY = 1024


@dataclass(frozen=True)
class ReplayOptions:
    topic: str
    mode: Mode = "max"
    speed: float | None = None
    rate: float | None = None
    shift_to_now: bool = False
    loop: bool = False
    limit: int | None = None


@dataclass
class ReplaySummary:
    topic: str
    files: list[str]
    rows_read: int
    skipped: list[Skipped]
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    passes: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    topic_created: bool = False
    errors: Counter[str] = field(default_factory=Counter)
    first_event_time: str | None = None
    last_event_time: str | None = None

    @property
    def rate(self) -> float:
        """Delivered events per second of the send phase (including the final flush)."""
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


class _Deliveries:
    """The producer's delivery callback: counts acknowledgements and failures."""

    def __init__(self, listener: Callable[[Any], None] | None) -> None:
        self.delivered = 0
        self.failed = 0
        self.errors: Counter[str] = Counter()
        self.listener = listener

    def __call__(self, error: Any, message: Any) -> None:
        if error is not None:
            self.failed += 1
            self.errors[error.name() if hasattr(error, "name") else str(error)] += 1
            return
        self.delivered += 1
        if self.listener is not None:
            self.listener(message)


class _StopFlag:
    """Set by SIGINT/SIGTERM (or by a caller's event) so the loop can flush and summarise."""

    def __init__(self, external: threading.Event | None) -> None:
        self.external = external
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None or (self.external is not None and self.external.is_set())

    @contextmanager
    def handling_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def stop(signum: int, _frame: object) -> None:
            self.signal = signum

        for sig in previous:
            signal.signal(sig, stop)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def replay(
    settings: Settings,
    source: Source,
    options: ReplayOptions,
    *,
    listener: Callable[[Any], None] | None = None,
    stop: threading.Event | None = None,
) -> ReplaySummary:
    """Send `source`'s rows to `options.topic` and wait for every acknowledgement."""
    from confluent_kafka import Producer

    summary = ReplaySummary(options.topic, [p.name for p in source.files], len(source.rows),
                            source.skipped)
    if not source.rows:
        raise InputError(
            f"none of the {len(source.files)} selected file(s) has a row that can be sent",
            "check the files (the summary lists the skipped rows) or pick other dates",
        )
    summary.topic_created = client.ensure_topic(settings, options.topic)
    deliveries = _Deliveries(listener)
    config = client.producer_config(settings) | {
        "on_delivery": deliveries,
        "logger": _librdkafka_logger(),
    }
    log.debug("producer settings: %s", client.masked(config))
    producer = Producer(config)
    flag = _StopFlag(stop)
    started = time.monotonic()
    with flag.handling_signals():
        try:
            _send_passes(producer, source.rows, options, summary, flag)
            _send_dead_letters(settings, producer, source.skipped, summary)
        finally:
            remaining = producer.flush(settings.replay.flush_timeout_s)
            summary.seconds = time.monotonic() - started
            summary.interrupted = bool(flag)
            summary.delivered = deliveries.delivered
            summary.failed = deliveries.failed + remaining
            summary.errors = deliveries.errors
            if remaining:
                summary.errors["not acknowledged before the flush timeout"] += remaining
    return summary


def _librdkafka_logger() -> logging.Logger:
    """librdkafka's own log lines; its transient warnings (e.g. a fresh broker still loading
    its coordinator) are retried by librdkafka itself, so only errors are shown."""
    logger = logging.getLogger("retailpipe.replay.librdkafka")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    return logger


def _send_passes(
    producer: Any, rows: list[Row], options: ReplayOptions, summary: ReplaySummary,
    flag: _StopFlag,
) -> None:
    budget = options.limit
    one_pass = len(rows) if budget is None else min(budget, len(rows))
    total = budget if options.loop else one_pass
    with progress(f"replay -> {options.topic}", total, "events") as bar:
        generation = 0
        while not flag and (budget is None or budget > 0):
            sent = _send_pass(producer, rows, options, summary, flag, bar, generation, budget)
            summary.passes += 1
            if budget is not None:
                budget -= sent
            if not options.loop:
                break
            generation += 1


def _shift(rows: list[Row], options: ReplayOptions) -> dt.timedelta | None:
    """How far --shift-to-now moves event times: paced by --speed, the first event is now
    (the replay then runs live); otherwise the last event is now (all events just happened)."""
    if not options.shift_to_now:
        return None
    anchor = rows[0] if options.mode == "speed" else rows[-1]
    now = dt.datetime.now(dt.UTC)
    return dt.timedelta(seconds=round((now - anchor.event_time).total_seconds()))


def _send_pass(
    producer: Any, rows: list[Row], options: ReplayOptions, summary: ReplaySummary,
    flag: _StopFlag, bar: Any, generation: int, budget: int | None,
) -> int:
    shift = _shift(rows, options)
    topic, produce, poll = options.topic, producer.produce, producer.poll
    pacer = _Pacer(options, rows[0].epoch) if options.mode != "max" else None
    count = 0
    last_report = time.monotonic()
    reported = 0
    for index, row in enumerate(rows):
        if (budget is not None and count >= budget) or flag:
            break
        if pacer is not None:
            pacer.wait(index, row.epoch, poll, flag)
            if flag:
                break
        value = encode(event(row.fields, row.event_time, shift, generation, row.iso_time))
        key = row.fields[3].encode()
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:  # the local queue is full: serve deliveries, then retry
                poll(0.05)
        count += 1
        if count & (REPORT_EVERY - 1) == 0 or pacer is not None:
            poll(0)
            now = time.monotonic()
            if now - last_report >= 0.25:
                rate = (count - reported) / (now - last_report)
                status = f"{rate:,.0f}/s, event time {_position(row, shift)}"
                bar.advance(count - reported, status=status)
                reported, last_report = count, now
    if count:
        if summary.first_event_time is None:
            summary.first_event_time = _position(rows[0], shift)
        summary.last_event_time = _position(rows[count - 1], shift)
    bar.advance(count - reported)
    summary.sent += count
    return count


def _position(row: Row, shift: dt.timedelta | None) -> str:
    return (row.event_time + shift if shift else row.event_time).isoformat()


class _Pacer:
    """Waits before each event: --speed keeps the scaled gaps between event times, --rate
    spaces events 1/rate s apart. Waiting is done in `poll()`, so deliveries are served."""

    def __init__(self, options: ReplayOptions, first_epoch: float) -> None:
        self.speed = options.speed if options.mode == "speed" else None
        self.rate = options.rate if options.mode == "rate" else None
        self.first_epoch = first_epoch
        self.started = time.monotonic()

    def wait(self, index: int, epoch: float, poll: Callable[[float], int], flag: _StopFlag) -> None:
        if self.speed:
            target = (epoch - self.first_epoch) / self.speed
        elif self.rate:
            target = index / self.rate
        else:
            return
        deadline = self.started + target
        while not flag:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            poll(min(left, MAX_WAIT_S))


def _send_dead_letters(
    settings: Settings, producer: Any, skipped: list[Skipped], summary: ReplaySummary
) -> None:
    topic = settings.kafka.dead_letter_topic
    if not topic or not skipped:
        return
    client.ensure_topic(settings, topic)
    for row in skipped:
        value = encode({"file": row.file, "line_number": row.line_number, "reason": row.reason,
                        "detail": row.detail, "raw": row.raw})
        while True:
            try:
                producer.produce(topic, value, row.file.encode())
                break
            except BufferError:
                producer.poll(0.05)
        summary.dead_lettered += 1


def load_and_replay(settings: Settings, files: list[Any], options: ReplayOptions,
                    **kwargs: Any) -> ReplaySummary:
    """Read `files` (event-time order) and replay them."""
    return replay(settings, read_source(files), options, **kwargs)
