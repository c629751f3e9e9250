"""One exchange with the provider's API: attempts, retries and the wait between, within a deadline.

An attempt sends the request and reads the answer's head: its status, headers and the first
``response_buffer`` bytes of its body (all of a small body). Reading that much before answering the
caller means a reply lost halfway (the connection closing mid-body) is still a failed attempt, retried
when ``retries`` allows it, or a clean 502 otherwise, instead of a caller's truncated 200. What to
retry is ``retries``' rule; this module applies it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from gateway.proxy.body import RequestBody
from gateway.proxy.deadlines import Watchdog
from gateway.proxy.errors import UpstreamFailure, UpstreamTimeout
from gateway.proxy.headers import CallerHeaders, received_header, upstream_request_headers
from gateway.proxy.retries import RETRIED_STATUSES, RetryPolicy, retry_after_seconds
from gateway.proxy.upstream import Upstream, UpstreamResponse

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outgoing:
    """The call as the provider gets it, but for the token."""

    method: str
    url: str
    caller: CallerHeaders
    request_id: str
    body: RequestBody
    repeatable: bool

    @property
    def logged_as(self) -> str:
        """Method and URL without the query string (which may carry what logs must not)."""
        return f"{self.method} {self.url.partition('?')[0]}"


@dataclass(slots=True)
class Answer:
    response: UpstreamResponse
    head: bytes
    complete: bool
    attempts: int
    status: int


class Forwarder:
    def __init__(
        self,
        upstream: Upstream,
        policy: RetryPolicy,
        response_buffer: int,
        watchdog: Watchdog,
        read_timeout: float,
        rng: random.Random | None = None,
    ) -> None:
        self._upstream = upstream
        self._watchdog = watchdog
        self.policy = policy
        self._response_buffer = response_buffer
        self._read_timeout = read_timeout
        self._rng = rng

    def deadline(self) -> float:
        """When the exchange must be over, on the deadlines' clock (``time.monotonic``)."""
        return time.monotonic() + self.policy.total_seconds

    async def exchange(self, outgoing: Outgoing, token: str, deadline: float) -> Answer:
        """The provider's answer, retried as far as is safe; our error when there is none.

        An attempt is made right here rather than in a coroutine of its own: every level of
        ``await`` is passed through each time the call waits for the provider."""
        headers = upstream_request_headers(outgoing.caller, token, outgoing.request_id)
        streamed = outgoing.body.streamed
        if streamed and outgoing.body.length is not None:
            # Sent as announced rather than chunked: some servers take no chunked uploads.
            headers.append(("Content-Length", str(outgoing.body.length)))
        attempt = 0
        while True:
            attempt += 1
            response: UpstreamResponse | None = None
            try:
                try:
                    # One watchdog entry for the attempt: until the answer starts, the read
                    # timeout counts too (a body in hand is sent at once; a streamed one may take
                    # long to send); the head's reads then keep their own read timeout.
                    answer_by = deadline
                    if not streamed:
                        answer_by = time.monotonic() + self._read_timeout
                        if answer_by > deadline:  # (not min(): a call less)
                            answer_by = deadline
                    with self._watchdog.limit(answer_by) as limit:
                        response = await self._upstream.send(
                            outgoing.method, outgoing.url, headers, outgoing.body.content()
                        )
                        limit.when = deadline
                        head = response.whole_body()
                        complete = head is not None
                        if head is None:
                            head, complete = await response.read_head(self._response_buffer)
                except TimeoutError as exc:
                    raise UpstreamTimeout("the provider's API did not answer in time") from exc
            except UpstreamFailure as failure:
                if response is not None:
                    response.close()
                may = outgoing.body.replayable and (failure.before_sending or outgoing.repeatable)
                wait = (
                    self.policy.wait(attempt, deadline - time.monotonic(), rng=self._rng)
                    if may
                    else None
                )
                if wait is None:
                    raise
                log.warning(
                    "%s: attempt %d failed (%s); retrying in %.2fs",
                    outgoing.logged_as,
                    attempt,
                    failure.code,
                    wait,
                    extra={"request_id": outgoing.request_id},
                )
                await asyncio.sleep(wait)
                continue
            except BaseException:
                if response is not None:
                    response.close()
                raise
            status = response.status
            if status in RETRIED_STATUSES and outgoing.repeatable and outgoing.body.replayable:
                retry_after = retry_after_seconds(received_header(response.headers, b"retry-after"))
                wait = self.policy.wait(
                    attempt, deadline - time.monotonic(), retry_after, self._rng
                )
                if wait is not None:
                    response.close()
                    log.warning(
                        "%s: attempt %d answered %d; retrying in %.2fs",
                        outgoing.logged_as,
                        attempt,
                        status,
                        wait,
                        extra={"request_id": outgoing.request_id},
                    )
                    await asyncio.sleep(wait)
                    continue
            return Answer(response, head, complete, attempt, status)
