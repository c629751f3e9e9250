"""Process-wide logging set-up, done once by the command that starts."""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    # Our RequestContext middleware writes the access log, with secrets redacted.
    logging.getLogger("uvicorn.access").disabled = True
