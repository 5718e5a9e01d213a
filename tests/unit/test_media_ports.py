"""RTP port pairs: even ports, late reuse, exhaustion and refusal."""

from __future__ import annotations

import pytest

from media.ports import NoFreePorts, PortAllocator


def test_allocates_even_ports_with_room_for_rtcp() -> None:
    ports = PortAllocator(20001, 20010)
    got = [ports.allocate() for _ in range(4)]
    assert got == [20002, 20004, 20006, 20008]
    assert all(p % 2 == 0 and p + 1 <= 20010 for p in got)
    with pytest.raises(NoFreePorts, match="20002-20010"):
        ports.allocate()


def test_released_pairs_are_reused_last() -> None:
    ports = PortAllocator(20000, 20007)
    first = ports.allocate()
    ports.release(first)
    assert [ports.allocate() for _ in range(4)] == [20002, 20004, 20006, first]
    assert ports.in_use == 4 and ports.capacity == 4


def test_double_release_is_an_error() -> None:
    ports = PortAllocator(20000, 20003)
    port = ports.allocate()
    ports.release(port)
    with pytest.raises(ValueError, match="not allocated"):
        ports.release(port)
    assert port not in ports


def test_refused_port_is_retried_after_the_others() -> None:
    ports = PortAllocator(20000, 20005)
    taken = ports.allocate()
    ports.refused(taken)
    assert ports.allocate() == 20002
    assert ports.allocate() == 20004
    assert ports.allocate() == taken


def test_range_without_a_pair_is_rejected() -> None:
    with pytest.raises(ValueError, match="no port pair"):
        PortAllocator(20001, 20002)
