"""The four transition tables, checked as data: states per role, and which states can wait
forever (only those where the TU owes an action)."""

from __future__ import annotations

import pytest

from callcenter.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    TransactionState,
)
from callcenter.sip.transaction_base import Input, Transaction

S = TransactionState
TIMERS = {i for i in Input if i.name.startswith("TIMER_")}
MACHINES: list[tuple[type[Transaction], set[TransactionState], set[TransactionState]]] = [
    # (machine, its states, states with no timer of their own: the TU must act)
    (ClientInviteTransaction, {S.CALLING, S.PROCEEDING, S.COMPLETED, S.ACCEPTED}, {S.PROCEEDING}),
    (ClientNonInviteTransaction, {S.TRYING, S.PROCEEDING, S.COMPLETED}, set()),
    (ServerInviteTransaction, {S.PROCEEDING, S.COMPLETED, S.CONFIRMED, S.ACCEPTED}, {S.PROCEEDING}),
    (ServerNonInviteTransaction, {S.TRYING, S.PROCEEDING, S.COMPLETED}, {S.TRYING, S.PROCEEDING}),
]


@pytest.mark.parametrize(("machine", "states", "waiting"), MACHINES)
def test_table_uses_only_its_rfc_states(
    machine: type[Transaction], states: set[TransactionState], waiting: set[TransactionState]
) -> None:
    used = {s for s, _ in machine.TRANSITIONS} | {s for s, _ in machine.TRANSITIONS.values()}
    assert used - {S.TERMINATED} == states


@pytest.mark.parametrize(("machine", "states", "waiting"), MACHINES)
def test_every_state_but_the_tu_waits_ends_by_a_timer(
    machine: type[Transaction], states: set[TransactionState], waiting: set[TransactionState]
) -> None:
    timed = {s for (s, i) in machine.TRANSITIONS if i in TIMERS}
    assert states - timed <= waiting
    # a timer always leads somewhere that can still end: Terminated, or a timed state
    for (state, inp), (target, _) in machine.TRANSITIONS.items():
        if inp in TIMERS and inp is not Input.TIMER_TRYING and state is not target:
            assert target is S.TERMINATED or target in timed


def test_retransmission_timers_loop_and_timeouts_terminate() -> None:
    for machine, _, _ in MACHINES:
        for (state, inp), (target, _) in machine.TRANSITIONS.items():
            if inp in (Input.TIMER_A, Input.TIMER_E, Input.TIMER_G, Input.TIMER_TRYING):
                assert target is state
            elif inp in TIMERS:
                assert target is S.TERMINATED
