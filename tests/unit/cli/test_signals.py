"""signals_deferred: SIGINT/SIGTERM/SIGHUP wait until the block is done, then are delivered."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from devbench.run.signals import signals_deferred


class Term(Exception):
    pass


def _raise_term(signum, frame):
    raise Term(signum)


@pytest.fixture
def term_handler():
    """A SIGTERM handler that raises, restored (with SIGHUP's and SIGINT's) after the test."""
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _raise_term)
    yield _raise_term
    for s, h in old.items():
        signal.signal(s, h)


def send_term():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)  # ample time for a Python handler to run if it is going to


def test_handler_raises_without_deferral(term_handler):
    reached = []
    with pytest.raises(Term):
        send_term()
        reached.append("after kill")
    assert reached == []


def test_sigterm_is_raised_after_the_block_not_inside(term_handler):
    reached = []
    with pytest.raises(Term) as exc:
        with signals_deferred():
            send_term()
            reached.append("inside, after kill")
        time.sleep(0.05)
        reached.append("after the block")
    assert reached == ["inside, after kill"]
    assert exc.value.args == (signal.SIGTERM,)


def test_handlers_are_replaced_inside_and_restored_after(term_handler):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with signals_deferred():
        inside = {s: signal.getsignal(s) for s in before}
    assert all(inside[s] is not before[s] for s in before)
    assert {s: signal.getsignal(s) for s in before} == before
    assert signal.getsignal(signal.SIGTERM) is term_handler


def test_handlers_restored_after_a_signal_and_after_an_exception(term_handler):
    with pytest.raises(Term):
        with signals_deferred():
            send_term()
    assert signal.getsignal(signal.SIGTERM) is term_handler
    with pytest.raises(ZeroDivisionError):
        with signals_deferred():
            1 / 0  # noqa: B018
    assert signal.getsignal(signal.SIGTERM) is term_handler


def test_no_signal_nothing_is_sent_after(term_handler):
    reached = []
    with signals_deferred():
        reached.append("inside")
    time.sleep(0.05)  # a spurious re-send would raise Term here
    reached.append("after")
    assert reached == ["inside", "after"]
    assert signal.getsignal(signal.SIGTERM) is term_handler


def test_nested(term_handler):
    reached = []
    with pytest.raises(Term):
        with signals_deferred():
            with signals_deferred():
                send_term()
                reached.append("inner")
            time.sleep(0.05)  # the inner block hands the signal to the outer one, which still holds it
            reached.append("outer")
        reached.append("after")
    assert reached == ["inner", "outer"]
    assert signal.getsignal(signal.SIGTERM) is term_handler


def test_signal_after_inner_block_still_deferred_by_outer(term_handler):
    reached = []
    with pytest.raises(Term):
        with signals_deferred():
            with signals_deferred():
                reached.append("inner")
            send_term()
            reached.append("outer")
        reached.append("after")
    assert reached == ["inner", "outer"]


def test_other_thread_is_a_no_op(term_handler):
    seen = []

    def body():
        with signals_deferred():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [term_handler]


def test_sigterm_after_an_ignored_sighup_is_not_lost(term_handler):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with pytest.raises(Term):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGHUP)
            send_term()
        time.sleep(0.05)
