"""Tap hub: routing by stream, fault isolation, bounded queues, immutable frames."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.tap import QueueSubscriber, Subscription, TapFrame, TapHub


def frame(stream_id: str = "leg-1", value: int = 0, timestamp: float = 0.0) -> TapFrame:
    return TapFrame(stream_id, "in", 8000, timestamp, np.full(160, value, dtype=np.int16))


def test_frame_copies_samples_read_only() -> None:
    buffer = np.arange(160, dtype=np.int16)
    tapped = TapFrame("a", "out", 8000, 1.5, buffer, marked="masked")
    buffer[:] = 0  # the publisher reuses its buffer
    assert tapped.samples[5] == 5
    with pytest.raises(ValueError):
        tapped.samples[0] = 1
    assert tapped.duration == pytest.approx(0.02)
    assert tapped.marked == "masked"


def test_frame_repr_hides_audio() -> None:
    text = repr(TapFrame("a", "in", 8000, 0.0, np.full(160, 12345, dtype=np.int16)))
    assert "12345" not in text and "<160 samples>" in text


@pytest.mark.parametrize(
    ("direction", "rate", "samples"),
    [
        ("both", 8000, np.zeros(160, np.int16)),
        ("in", 0, np.zeros(160, np.int16)),
        ("in", 8000, np.zeros((2, 160), np.int16)),
    ],
)
def test_frame_validation(direction: str, rate: int, samples: np.ndarray) -> None:
    with pytest.raises(ValueError):
        TapFrame("a", direction, rate, 0.0, samples)  # type: ignore[arg-type]


def test_frames_go_to_their_stream_and_to_wildcards() -> None:
    hub = TapHub()
    got: list[tuple[str, str]] = []
    hub.subscribe("leg-1", lambda f: got.append(("leg-1 sub", f.stream_id)))
    hub.subscribe(None, lambda f: got.append(("all", f.stream_id)))
    hub.subscribe("leg-2", lambda f: got.append(("leg-2 sub", f.stream_id)))
    assert hub.publish(frame("leg-1")) == 2
    assert hub.publish(frame("leg-3")) == 1
    assert got == [("leg-1 sub", "leg-1"), ("all", "leg-1"), ("all", "leg-3")]
    assert (hub.published, hub.delivered, len(hub)) == (2, 3, 3)


def test_wants_reports_interest() -> None:
    hub = TapHub()
    assert not hub.wants("leg-1")
    sub = hub.subscribe("leg-1", lambda f: None)
    assert hub.wants("leg-1") and not hub.wants("leg-2")
    sub.close()
    assert not hub.wants("leg-1")
    hub.subscribe(None, lambda f: None)
    assert hub.wants("leg-2")


def test_closed_subscription_gets_nothing_and_close_is_idempotent() -> None:
    hub = TapHub()
    queue = QueueSubscriber(10)
    sub = hub.subscribe("leg-1", queue)
    hub.publish(frame())
    sub.close()
    sub.close()
    hub.publish(frame())
    assert len(queue.drain()) == 1
    assert not sub.active and len(hub) == 0


def test_failing_subscriber_is_counted_and_others_still_receive() -> None:
    errors: list[tuple[Subscription, Exception]] = []
    hub = TapHub(on_error=lambda s, e: errors.append((s, e)))

    def broken(f: TapFrame) -> None:
        raise OSError("disk full")

    bad = hub.subscribe(None, broken)
    queue = QueueSubscriber(10)
    good = hub.subscribe(None, queue)
    for i in range(3):
        assert hub.publish(frame(value=i)) == 1
    assert (bad.errors, bad.last_error, bad.delivered) == (3, "OSError", 0)
    assert (good.errors, good.delivered) == (0, 3)
    assert hub.errors == 3 and len(errors) == 3 and errors[0][0] is bad
    assert [int(f.samples[0]) for f in queue.drain()] == [0, 1, 2]


def test_failing_error_hook_is_swallowed() -> None:
    def hook(s: Subscription, e: Exception) -> None:
        raise RuntimeError("logger broke")

    def broken(f: TapFrame) -> None:
        raise ZeroDivisionError

    hub = TapHub(on_error=hook)
    hub.subscribe(None, broken)
    assert hub.publish(frame()) == 0
    assert hub.errors == 1


def test_callback_may_close_or_subscribe_during_publish() -> None:
    hub = TapHub()
    seen: list[str] = []
    later = QueueSubscriber(5)

    def once(f: TapFrame) -> None:
        seen.append("once")
        subscription.close()
        hub.subscribe("leg-1", later)

    subscription = hub.subscribe("leg-1", once)
    hub.subscribe("leg-1", lambda f: seen.append("second"))
    hub.publish(frame())
    hub.publish(frame())
    assert seen == ["once", "second", "second"]
    assert len(later.drain()) == 1  # subscribed during the first publish


def test_close_stream_ends_its_subscriptions_only() -> None:
    hub = TapHub()
    a = hub.subscribe("leg-1", lambda f: None)
    b = hub.subscribe("leg-1", lambda f: None)
    c = hub.subscribe(None, lambda f: None)
    assert hub.close_stream("leg-1") == 2
    assert (a.active, b.active, c.active) == (False, False, True)
    assert hub.close_stream("leg-1") == 0


def test_queue_drops_oldest_and_counts_overflow() -> None:
    queue = QueueSubscriber(3)
    for i in range(5):
        queue(frame(value=i))
    assert queue.overflow == 2 and len(queue) == 3
    assert [int(f.samples[0]) for f in queue.drain()] == [2, 3, 4]
    assert queue.drain() == [] and queue.overflow == 2
    with pytest.raises(ValueError):
        QueueSubscriber(0)


@given(st.integers(1, 20), st.integers(0, 60))
def test_queue_keeps_the_newest_frames(maxlen: int, count: int) -> None:
    queue = QueueSubscriber(maxlen)
    for i in range(count):
        queue(frame(value=i))
    kept = [int(f.samples[0]) for f in queue.drain()]
    assert kept == list(range(max(0, count - maxlen), count))
    assert queue.overflow == max(0, count - maxlen)
