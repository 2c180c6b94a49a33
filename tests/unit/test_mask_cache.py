"""MaskCache: masked intended configs kept between audits, exact and bounded."""

from __future__ import annotations

import threading

from driftaudit.domain.mask_cache import MaskCache
from driftaudit.domain.masking import MaskingRegistry, mask_content
from driftaudit.domain.models import Platform

REGISTRY = MaskingRegistry.builtin(key=b"cache-test")
IOS = REGISTRY.for_platform(Platform.IOS)
TEXT = "hostname r1\nusername admin secret 5 $1$abcd$0123456789abcdefghij\nntp server 10.0.0.1\n"


class Counting:
    """A mask function that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> str:
        self.calls += 1
        return mask_content(text, IOS)


def test_a_text_is_masked_once_and_then_served_from_the_cache() -> None:
    cache, mask = MaskCache(1 << 20), Counting()
    first = cache.masked(TEXT, IOS, mask)
    assert first == mask_content(TEXT, IOS)
    assert "0123456789abcdefghij" not in first
    assert cache.masked(TEXT, IOS, mask) == first
    assert (mask.calls, cache.hits, cache.misses) == (1, 1, 1)
    assert cache.chars == len(TEXT) + len(first)


def test_a_changed_text_or_other_patterns_are_a_miss() -> None:
    cache, mask = MaskCache(1 << 20), Counting()
    cache.masked(TEXT, IOS, mask)
    changed = TEXT.replace("10.0.0.1", "10.0.0.2")
    assert "10.0.0.2" in cache.masked(changed, IOS, mask)
    other = MaskingRegistry.builtin(key=b"another key").for_platform(Platform.IOS)
    assert cache.masked(TEXT, other, lambda text: mask_content(text, other)) == mask_content(TEXT, other)
    assert cache.masked(TEXT, other, lambda text: mask_content(text, other)) != mask_content(TEXT, IOS)
    assert mask.calls == 2
    assert len(cache) == 3


def test_the_bound_holds_and_a_cyclic_fleet_larger_than_it_still_hits() -> None:
    texts = [f"hostname r{i}\nntp server 10.0.{i // 250}.{i % 250}\n" for i in range(400)]
    size = max(len(text) + len(mask_content(text, IOS)) for text in texts)
    cache = MaskCache(100 * size, seed=7)
    for _ in range(5):  # the same devices in the same order, audit after audit
        for text in texts:
            assert cache.masked(text, IOS, lambda t: mask_content(t, IOS)) == mask_content(text, IOS)
            assert cache.chars <= cache.max_chars
    # near the share that fits, about a quarter (a least-recently-used cache would hit nothing here)
    assert cache.hits > 0.15 * 4 * len(texts)


def test_zero_disables_the_cache_and_a_text_over_the_bound_is_not_kept() -> None:
    off, mask = MaskCache(0), Counting()
    off.masked(TEXT, IOS, mask)
    off.masked(TEXT, IOS, mask)
    assert mask.calls == 2
    assert len(off) == 0
    small = MaskCache(10)
    assert small.masked(TEXT, IOS, mask) == mask_content(TEXT, IOS)
    assert len(small) == 0
    assert small.chars == 0


def test_threads_share_one_cache_safely() -> None:
    texts = [f"hostname r{i}\n" for i in range(50)]
    cache = MaskCache(40 * 30, seed=1)
    wrong: list[str] = []

    def work() -> None:
        for _ in range(20):
            for text in texts:
                if cache.masked(text, IOS, lambda t: mask_content(t, IOS)) != mask_content(text, IOS):
                    wrong.append(text)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert cache.chars <= cache.max_chars
    assert cache.chars == sum(len(key) + len(value) for (_, key), (_, value) in cache._entries.items())  # noqa: SLF001
