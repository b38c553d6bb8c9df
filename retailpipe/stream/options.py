"""Stream options: durations ("10s", "1h") and the checkpoint's compatibility record."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from retailpipe.errors import ConfigError
from retailpipe.fs import LOCAL, Files, Location, atomic_write
from retailpipe.schemas import ALL_STORES, SCHEMA_VERSION
from retailpipe.settings import Settings

UNITS = {
    "ms": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
GROUPING = f"window(event_time) x (store_id, {ALL_STORES})"
METADATA_FILE = "retailpipe-stream.json"


def seconds(text: str, key: str) -> float:
    """Seconds in a duration such as '10s', '5m', '1h' or '10 minutes'."""
    match = DURATION.match(text.lower())
    if not match or match.group(2) not in UNITS or int(match.group(1)) <= 0:
        raise ConfigError(
            f"{key} {text!r} is not a duration",
            f"write it as a positive number and a unit, e.g. 10s, 5m, 1h (setting {key})",
        )
    return int(match.group(1)) * UNITS[match.group(2)]


def spark_interval(secs: float) -> str:
    """A Spark interval string ('300 seconds'); milliseconds when not whole seconds."""
    if secs == int(secs):
        return f"{int(secs)} seconds"
    return f"{round(secs * 1000)} milliseconds"


@dataclass(frozen=True)
class StreamOptions:
    """The stream's settings, checked and converted once."""

    topic: str
    trigger_s: float
    window_s: float
    slide_s: float
    watermark_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamOptions:
        stream = settings.stream
        options = cls(
            topic=settings.kafka.topic,
            trigger_s=seconds(stream.trigger, "stream.trigger"),
            window_s=seconds(stream.window, "stream.window"),
            slide_s=seconds(stream.slide, "stream.slide"),
            watermark_s=seconds(stream.watermark, "stream.watermark"),
        )
        if options.slide_s > options.window_s:
            raise ConfigError(
                f"stream.slide {stream.slide!r} is longer than stream.window {stream.window!r}",
                "use a slide no longer than the window, e.g. --window 1h --slide 5m",
            )
        return options

    @property
    def window(self) -> str:
        return spark_interval(self.window_s)

    @property
    def slide(self) -> str:
        return spark_interval(self.slide_s)

    @property
    def window_us(self) -> int:
        return round(self.window_s * 1_000_000)

    @property
    def slide_us(self) -> int:
        return round(self.slide_s * 1_000_000)

    @property
    def watermark_us(self) -> int:
        return round(self.watermark_s * 1_000_000)

    def signature(self) -> dict[str, object]:
        """What a checkpoint depends on: change any of it and old results mean something else."""
        return {
            "topic": self.topic,
            "window_s": self.window_s,
            "slide_s": self.slide_s,
            "grouping": GROUPING,
            "schema_version": SCHEMA_VERSION,
        }


def check_checkpoint(checkpoint: Location, options: StreamOptions, files: Files = LOCAL) -> None:
    """Refuse to resume a checkpoint written for another topic or grouping; record a new one."""
    path = files.join(checkpoint, METADATA_FILE)
    wanted = options.signature()
    if files.exists(path):
        recorded = json.loads(files.read_bytes(path))
        changed = [key for key in wanted if recorded.get(key) != wanted[key]]
        if changed:
            what = ", ".join(f"{k} {recorded.get(k)!r} -> {wanted[k]!r}" for k in changed)
            raise ConfigError(
                f"the checkpoint in {checkpoint} was written with other settings ({what}); "
                "resuming would mix incompatible results",
                "restore the previous settings, or pass --reset to delete the checkpoint and "
                "the stream outputs and start over",
            )
        return
    record = json.dumps({**wanted, "options": asdict(options)}, indent=2) + "\n"
    atomic_write(files, path, record.encode())
