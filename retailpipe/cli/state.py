"""What the app callback hands every command: the config file, flags and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import typer

from retailpipe.settings import Settings, load_settings


@dataclass
class AppState:
    """Per-invocation state; settings are built once, with the command's flags on top."""

    config_file: str | None = None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, overrides: dict[str, Any] | None = None) -> Settings:
        """The settings for this invocation (flags > env > config file > defaults)."""
        if self._settings is None:
            self._settings = load_settings(self.config_file, overrides)
        return self._settings


def state(ctx: typer.Context) -> AppState:
    """The AppState of the running command (a fresh one when called outside the app)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj
