"""The change feed over Redis pub/sub (``storage.changes`` says when it is used).

A change is published on ``<prefix>changes`` after its commit, the revision as the message;
every worker subscribes (the client PINGs an idle subscription every ``KEEPALIVE`` s).
Redis going away costs nothing but speed: a publish that fails is logged once and the others
find the change by their poll; the subscriber reconnects by itself and pokes once when back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from authgate.storage.changes import KEEPALIVE, RETRY, Outage, Poke

PUBLISH_TIMEOUT = 0.5  # a sign-out waits at most this long for a Redis that does not answer


class RedisFeed:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.channel = f"{prefix}changes"
        self.client: Redis = Redis.from_url(
            url, socket_timeout=PUBLISH_TIMEOUT, socket_connect_timeout=PUBLISH_TIMEOUT
        )
        self.publishing = Outage("change feed (Redis publish)")
        self.listening = Outage("change feed (Redis subscribe)")

    async def announce(self, revision: int) -> None:
        try:
            await self.client.publish(self.channel, str(revision))
        except (RedisError, OSError, TimeoutError) as exc:
            self.publishing.lost(exc)
        else:
            self.publishing.back()

    async def listen(self, poke: Poke) -> None:
        attempt = 0
        while True:
            client: Any = Redis.from_url(
                self.url, socket_connect_timeout=KEEPALIVE, health_check_interval=KEEPALIVE
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.listening.back()
                poke()  # catch up on whatever happened while nobody listened
                while True:
                    message = await pubsub.get_message(timeout=KEEPALIVE)
                    if message is not None:
                        poke()
                    elif not pubsub.connection or not pubsub.connection.is_connected:
                        raise ConnectionError("the subscription's connection closed")
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                if not self.listening.down:
                    attempt = 0  # it was up: start the waits over
                self.listening.lost(exc)
            finally:
                await pubsub.aclose()
                await client.aclose()
            await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
            attempt += 1

    async def close(self) -> None:
        await self.client.aclose()
