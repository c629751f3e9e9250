from gateway.proxy.cache import LocalCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def live_cache(ttl: float = 10.0, clock: Clock | None = None) -> LocalCache[str, int]:
    cache: LocalCache[str, int] = LocalCache(ttl, clock=clock or Clock(), renews=True)
    cache.resume()
    return cache


def test_a_value_is_served_until_its_ttl_runs_out() -> None:
    clock = Clock()
    cache = live_cache(10.0, clock)
    cache.put("a", 1, cache.epoch)
    clock.now = 9.9
    assert cache.get("a") == 1
    clock.now = 10.0
    assert cache.get("a") is None


def test_nothing_is_served_or_kept_while_suspended() -> None:
    cache = live_cache()
    cache.put("a", 1, cache.epoch)
    cache.suspend()
    assert cache.get("a") is None
    cache.put("b", 2, cache.epoch)
    cache.resume()
    assert cache.get("a") is None and cache.get("b") is None


def test_a_value_read_before_an_invalidation_is_not_kept() -> None:
    cache = live_cache()
    epoch = cache.epoch  # a reader starts
    cache.invalidate("other")  # a change is heard of meanwhile
    cache.put("a", 1, epoch)
    assert cache.get("a") is None


def test_invalidation_drops_only_what_it_names() -> None:
    cache = live_cache()
    cache.put("a", 1, cache.epoch)
    cache.put("b", 2, cache.epoch)
    cache.invalidate("a")
    cache.invalidate_where(lambda value: value == 3)
    assert (cache.get("a"), cache.get("b")) == (None, 2)


def test_a_full_cache_sheds_its_oldest_entry() -> None:
    cache: LocalCache[str, int] = LocalCache(10.0, max_bytes=20, weigh=lambda _k, _v: 10)
    cache.resume()
    for name, value in [("a", 1), ("b", 2), ("c", 3)]:
        cache.put(name, value, cache.epoch)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)


def test_a_zero_ttl_caches_nothing() -> None:
    cache = live_cache(0.0)
    cache.put("a", 1, cache.epoch)
    assert cache.get("a") is None


def test_one_reader_is_asked_to_renew_an_entry_late_in_its_life() -> None:
    clock = Clock()
    cache = live_cache(10.0, clock)
    cache.put("a", 1, cache.epoch)
    clock.now = 5.9  # before the earliest renewal moment (60 % of the TTL)
    assert cache.lookup("a") == (1, False)
    clock.now = 9.0  # past the latest one (90 %)
    assert cache.lookup("a") == (1, True)
    assert cache.lookup("a") == (1, False)  # the others are served, not asked again
    cache.put("a", 2, cache.epoch)  # the renewal lands
    assert cache.lookup("a") == (2, False)
    clock.now = 18.5  # its own life counts from when it landed
    assert cache.lookup("a") == (2, True)


def test_entries_put_together_are_renewed_spread_out() -> None:
    clock = Clock()
    cache = live_cache(100.0, clock)
    for n in range(200):
        cache.put(str(n), n, cache.epoch)
    asked_at: list[float] = []
    for tenth in range(60, 91):
        clock.now = float(tenth)
        asked_at += [clock.now for n in range(200) if cache.lookup(str(n))[1]]
    assert len(asked_at) == 200  # each entry renewed once, between 60 % and 90 % of its TTL
    assert len(set(asked_at)) > 20  # not all at one moment
