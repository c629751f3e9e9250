from gateway.proxy.cache import LocalCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def live_cache(ttl: float = 10.0, clock: Clock | None = None) -> LocalCache[str, int]:
    cache: LocalCache[str, int] = LocalCache(ttl, clock=clock or Clock())
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
    cache: LocalCache[str, int] = LocalCache(10.0, max_entries=2)
    cache.resume()
    for name, value in [("a", 1), ("b", 2), ("c", 3)]:
        cache.put(name, value, cache.epoch)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)


def test_a_zero_ttl_caches_nothing() -> None:
    cache = live_cache(0.0)
    cache.put("a", 1, cache.epoch)
    assert cache.get("a") is None
