"""One scrape for a machine's serving processes (``gateway serve --workers N``).

Each process counts what it serves in its own registry. So that a scrape, whichever process takes
it, shows the machine's totals, every process answers on a Unix socket of its own, in a directory
only the gateway's user can enter, with its summable samples (counters and histograms, without
their ``_created`` times); the process that takes the scrape adds the others' to its own. Gauges
are the cluster's, read from PostgreSQL by the scraping process at scrape time: its own are kept.

A process that does not answer within ``ASK_TIMEOUT_SECONDS`` (being replaced, say) is left out of
that scrape; a replaced process starts from zero, which Prometheus's ``rate`` reads as a counter
reset.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from gateway.kit.prefork import Slot

log = logging.getLogger(__name__)

ASK_TIMEOUT_SECONDS = 2.0
# The sample names a family of each summed type holds (``_created`` is when, not how many).
SUMMED_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
}

Labels = tuple[tuple[str, str], ...]
SampleKey = tuple[str, Labels]


class Siblings:
    """This process's ``slot`` among the machine's serving processes, and their sockets in
    ``directory``."""

    def __init__(self, directory: Path, slot: Slot) -> None:
        self.directory = directory
        self.slot = slot

    def _socket(self, number: int) -> Path:
        return self.directory / f"{number}.sock"

    async def serve(self, registry: CollectorRegistry, stop: asyncio.Event) -> None:
        """Answer the others' requests for this process's summable samples until ``stop``."""

        async def answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                writer.write(json.dumps(list(summable(registry))).encode())
                await writer.drain()
            except OSError:
                pass  # the asking process gave up
            finally:
                writer.close()

        path = self._socket(self.slot.number)
        path.unlink(missing_ok=True)  # left by the process this one replaces
        server = await asyncio.start_unix_server(answer, path=str(path))
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()

    async def exposition(self, registry: CollectorRegistry) -> bytes:
        """The text format of ``registry`` with every other process's summable samples added."""
        others = [n for n in range(1, self.slot.count + 1) if n != self.slot.number]
        answers = await asyncio.gather(*(self._ask(number) for number in others))
        totals: dict[SampleKey, float] = {}
        for samples in answers:
            for name, labels, value in samples:
                key = (name, tuple(sorted(labels.items())))
                totals[key] = totals.get(key, 0.0) + value
        return generate_latest(_Merged(list(registry.collect()), totals))

    async def _ask(self, number: int) -> list[tuple[str, dict[str, str], float]]:
        try:
            async with asyncio.timeout(ASK_TIMEOUT_SECONDS):
                reader, writer = await asyncio.open_unix_connection(str(self._socket(number)))
                try:
                    data = await reader.read()
                finally:
                    writer.close()
            return [(name, labels, value) for name, labels, value in json.loads(data)]
        except (OSError, TimeoutError, ValueError) as exc:
            log.warning("serving process %d left out of this scrape: %s", number, exc)
            return []


def summable(registry: CollectorRegistry) -> Iterator[tuple[str, dict[str, str], float]]:
    """The samples of ``registry`` that add up across processes."""
    for family in registry.collect():
        suffixes = SUMMED_SUFFIXES.get(family.type)
        if suffixes is None:
            continue
        for sample in family.samples:
            if sample.name.endswith(suffixes):
                yield sample.name, sample.labels, sample.value


class _Merged(Collector):
    """``families`` with ``totals`` (from the other processes) added to their summable samples."""

    def __init__(self, families: list[Metric], totals: dict[SampleKey, float]) -> None:
        self._families = families
        self._totals = totals

    def collect(self) -> Iterable[Metric]:
        for family in self._families:
            suffixes = SUMMED_SUFFIXES.get(family.type)
            if suffixes is None:
                yield family
                continue
            names = {family.name + suffix for suffix in suffixes}
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            seen: set[SampleKey] = set()
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                value = sample.value
                if sample.name in names:
                    seen.add(key)
                    value += self._totals.get(key, 0.0)
                merged.add_sample(sample.name, sample.labels, value)
            # Series only the other processes have (a route this one has not served yet).
            for (name, labels), value in self._totals.items():
                if name in names and (name, labels) not in seen:
                    merged.add_sample(name, dict(labels), value)
            yield merged
