"""The replay loop: parsed rows -> paced, idempotent, acknowledged Kafka events, and a summary."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from operator import length_hint
from typing import Any, Literal

import pyarrow as pa

from retailpipe.errors import InputError
from retailpipe.progress import progress
from retailpipe.replay import client
from retailpipe.replay.events import encode, payloads
from retailpipe.replay.parse import EPOCH_US, OFFSET_US, Skipped
from retailpipe.replay.source import Source, event_time, read_source
from retailpipe.settings import Settings

log = logging.getLogger(__name__)

Mode = Literal["max", "speed", "rate"]
# Longest single wait, so Ctrl-C / SIGTERM and delivery callbacks are served promptly.
MAX_WAIT_S = 0.2
# Rows whose JSON is built at once (pyarrow kernels), and events produced between polls,
# stop checks and progress updates.
CHUNK = 16_384
BURST = 2_048


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
    """The producer's delivery callback: counts acknowledgements and failures.

    Without a listener, librdkafka reports failed deliveries only
    (`delivery.report.only.error`), so no Python runs per acknowledged event; the count of
    acknowledgements is then what was produced minus the failures and what `flush()` left.
    """

    def __init__(self, listener: Callable[[Any], None] | None) -> None:
        self.delivered = 0
        self.failed = 0
        self.errors: Counter[str] = Counter()
        self.listener = listener
        self.counts_successes = listener is not None

    def __call__(self, error: Any, message: Any) -> None:
        if error is not None:
            self.failed += 1
            self.errors[error.name() if hasattr(error, "name") else str(error)] += 1
            return
        self.delivered += 1
        if self.listener is not None:
            self.listener(message)

    def config(self) -> dict[str, Any]:
        return {"on_delivery": self, "delivery.report.only.error": not self.counts_successes}

    def acknowledged(self, produced: int, remaining: int) -> int:
        if self.counts_successes:
            return self.delivered
        return max(0, produced - self.failed - remaining)


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

    summary = ReplaySummary(
        options.topic, [p.name for p in source.files], len(source), source.skipped
    )
    if not len(source):
        raise InputError(
            f"none of the {len(source.files)} selected file(s) has a row that can be sent",
            "check the files (the summary lists the skipped rows) or pick other dates",
        )
    summary.topic_created = client.ensure_topic(settings, options.topic)
    deliveries = _Deliveries(listener)
    config = (
        client.producer_config(settings)
        | deliveries.config()
        | {
            "logger": _librdkafka_logger(),
        }
    )
    log.debug("producer settings: %s", client.masked(config))
    producer = Producer(config)
    flag = _StopFlag(stop)
    started = time.monotonic()
    with flag.handling_signals():
        try:
            _send_passes(producer, source, options, summary, flag)
            _send_dead_letters(settings, producer, source.skipped, summary)
        finally:
            remaining = producer.flush(settings.replay.flush_timeout_s)
            summary.seconds = time.monotonic() - started
            summary.interrupted = bool(flag)
            produced = summary.sent + summary.dead_lettered
            summary.delivered = deliveries.acknowledged(produced, remaining)
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
    producer: Any,
    source: Source,
    options: ReplayOptions,
    summary: ReplaySummary,
    flag: _StopFlag,
) -> None:
    budget = options.limit
    one_pass = len(source) if budget is None else min(budget, len(source))
    total = budget if options.loop else one_pass
    with progress(f"replay -> {options.topic}", total, "events") as bar:
        generation = 0
        while not flag and (budget is None or budget > 0):
            sent = _send_pass(producer, source, options, summary, flag, bar, generation, budget)
            summary.passes += 1
            if budget is not None:
                budget -= sent
            if not options.loop:
                break
            generation += 1


def _shift(source: Source, options: ReplayOptions) -> int | None:
    """How far --shift-to-now moves event times, in whole seconds: paced by --speed, the
    first event is now (the replay then runs live); otherwise the last event is now (all
    events just happened)."""
    if not options.shift_to_now:
        return None
    anchor = source.first_epoch if options.mode == "speed" else source.last_epoch
    return round(time.time() - anchor)


def _send_pass(
    producer: Any,
    source: Source,
    options: ReplayOptions,
    summary: ReplaySummary,
    flag: _StopFlag,
    bar: Any,
    generation: int,
    budget: int | None,
) -> int:
    shift = _shift(source, options)
    stop = len(source) if budget is None else min(budget, len(source))
    pacer = _Pacer(options, source.first_epoch) if options.mode != "max" else None
    report = _Report(bar, shift)
    count = 0
    try:
        with closing(_built(source, stop, generation, shift)) as chunks:
            for batch, values, keys in chunks:
                if flag:
                    break
                report.start(batch, count)
                if pacer is None:
                    sent = _send_burst(producer, options.topic, values, keys, flag, report, count)
                else:
                    epochs = batch[EPOCH_US].to_numpy() / 1e6
                    sent = _send_paced(
                        producer, options.topic, values, keys, flag, report, count, pacer, epochs
                    )
                if sent:
                    if summary.first_event_time is None:
                        summary.first_event_time = report.position(count)
                    summary.last_event_time = report.position(count + sent - 1)
                count += sent
                if sent < len(values):
                    break
    finally:
        summary.sent += count
    report.finish(count)
    return count


def _built(
    source: Source, stop: int, generation: int, shift: int | None
) -> Generator[tuple[pa.Table, list[bytes], list[bytes]]]:
    """Each chunk with its events' JSON values and keys. The next chunk is merged and built
    in a worker thread while the caller produces this one: pyarrow's kernels and the runs'
    lz4 reads release the GIL, so building overlaps producing."""

    def build() -> tuple[pa.Table, list[bytes], list[bytes]] | None:
        batch = next(chunks, None)
        if batch is None:
            return None
        keys = batch["store_id"].cast(pa.binary()).to_pylist()
        return batch, payloads(batch, generation, shift), keys

    # The pool is shut down (its last build finished) before the chunks are closed.
    with closing(_chunks(source, stop)) as chunks, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(build)
        while (built := pending.result()) is not None:
            pending = pool.submit(build)
            yield built


def _chunks(source: Source, stop: int) -> Generator[pa.Table]:
    """The first `stop` rows in send order, at most CHUNK rows at a time."""
    left = stop
    with closing(source.batches()) as batches:
        for table in batches:
            for start in range(0, min(table.num_rows, left), CHUNK):
                yield table.slice(start, min(CHUNK, left - start))
            left -= table.num_rows
            if left <= 0:
                return


def _send_burst(
    producer: Any,
    topic: str,
    values: list[bytes],
    keys: list[bytes],
    flag: _StopFlag,
    report: _Report,
    done: int,
) -> int:
    """Produce events as fast as librdkafka takes them, polling every BURST events."""
    sent = 0
    while sent < len(values) and not flag:
        end = min(sent + BURST, len(values))
        _produce_all(producer, topic, values[sent:end], keys[sent:end])
        sent = end
        producer.poll(0)
        report.update(done + sent)
    return sent


def _produce_all(producer: Any, topic: str, values: list[bytes], keys: list[bytes]) -> None:
    """produce() each (value, key) with no Python code in between; a full local queue is
    waited out in poll() and the refused event produced again."""
    produce = producer.produce
    pending_values, pending_keys = iter(values), iter(keys)
    while True:
        try:
            deque(map(produce, repeat(topic), pending_values, pending_keys), maxlen=0)
            return
        except BufferError:
            refused = len(values) - length_hint(pending_values) - 1
            _produce_one(producer, topic, values[refused], keys[refused])


def _produce_one(producer: Any, topic: str, value: bytes, key: bytes) -> None:
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:  # the local queue is full: serve deliveries, then retry
            producer.poll(0.05)


def _send_paced(
    producer: Any,
    topic: str,
    values: list[bytes],
    keys: list[bytes],
    flag: _StopFlag,
    report: _Report,
    done: int,
    pacer: _Pacer,
    epochs: Any,
) -> int:
    sent = 0
    for value, key, epoch in zip(values, keys, epochs, strict=True):
        pacer.wait(done + sent, epoch, producer.poll, flag)
        if flag:
            break
        _produce_one(producer, topic, value, key)
        sent += 1
        producer.poll(0)
        report.update(done + sent)
    return sent


class _Report:
    """Progress: events sent, the current rate and event time, at most four times a second."""

    def __init__(self, bar: Any, shift: int | None) -> None:
        self.bar, self.shift = bar, shift
        self.reported = 0
        self.last = time.monotonic()
        self.first_index = 0
        self.epoch_us: Any = None
        self.offset_us: Any = None

    def start(self, batch: pa.Table, first_index: int) -> None:
        """The batch being sent; its first row is event number `first_index` of the pass."""
        self.first_index = first_index
        self.epoch_us = batch[EPOCH_US].to_numpy()
        self.offset_us = batch[OFFSET_US].to_numpy()

    def position(self, index: int) -> str:
        """Event number `index`'s event time (shifted), ISO 8601; it must be in the batch."""
        row = index - self.first_index
        when = event_time(int(self.epoch_us[row]), int(self.offset_us[row]), self.shift or 0)
        return when.isoformat()

    def update(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.25:
            rate = (count - self.reported) / (now - self.last)
            position = self.position(count - 1)
            self.bar.advance(count - self.reported, status=f"{rate:,.0f}/s, event time {position}")
            self.reported, self.last = count, now

    def finish(self, count: int) -> None:
        self.bar.advance(count - self.reported)


class _Pacer:
    """Waits before each event: --speed keeps the scaled gaps between event times, --rate
    spaces events 1/rate s apart. Waiting is done in `poll()`, so deliveries are served."""

    def __init__(self, options: ReplayOptions, first_epoch: float) -> None:
        self.speed = options.speed if options.mode == "speed" else None
        self.rate = options.rate if options.mode == "rate" else None
        self.first_epoch = first_epoch
        self.started: float | None = None  # the clock starts at the first event's send

    def wait(self, index: int, epoch: float, poll: Callable[[float], int], flag: _StopFlag) -> None:
        """Wait for event number `index` of the pass, whose event time is `epoch`."""
        if self.started is None:
            self.started = time.monotonic()
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
        value = encode(
            {
                "file": row.file,
                "line_number": row.line_number,
                "reason": row.reason,
                "detail": row.detail,
                "raw": row.raw,
            }
        )
        while True:
            try:
                producer.produce(topic, value, row.file.encode())
                break
            except BufferError:
                producer.poll(0.05)
        summary.dead_lettered += 1


def load_and_replay(
    settings: Settings, files: list[Any], options: ReplayOptions, **kwargs: Any
) -> ReplaySummary:
    """Read `files` (event-time order) and replay them."""
    with read_source(files, timezone=settings.batch.timezone) as source:
        return replay(settings, source, options, **kwargs)
