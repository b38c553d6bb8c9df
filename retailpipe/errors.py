"""User-facing errors: one line saying what went wrong and how to fix it."""

from __future__ import annotations


class RetailpipeError(Exception):
    """An error the user can cause and fix; the CLI prints it as one line, no traceback."""

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        """The message and its fix on one line."""
        text = self.message.rstrip(".")
        return f"{text}. Fix: {self.fix}" if self.fix else text


class ConfigError(RetailpipeError):
    """A configuration key or value is wrong."""


class InputError(RetailpipeError):
    """Input data is missing or unusable."""


class ServiceError(RetailpipeError):
    """An external part (Java, Kafka, HDFS, Spark) is missing or does not answer."""

    exit_code = 3
