"""``storage.compute``: one thread of the process computes store results at a time."""

from __future__ import annotations

import threading
import time

from jupyter_workbench.storage.compute import computing, gated


def test_one_thread_computes_at_a_time_and_the_gate_is_reentrant():
    # Given eight threads that each compute twice, nested (a gated call inside a gated one)
    inside, most, lock = 0, 0, threading.Lock()

    def work():
        nonlocal inside, most
        with computing():
            with lock:
                inside += 1
                most = max(most, inside)
            gated(time.sleep, 0.01)  # re-entrant: no deadlock
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    # Then all finished, never two inside at once, and the gate is free again
    assert not any(t.is_alive() for t in threads)
    assert most == 1
    done = threading.Event()
    threading.Thread(target=lambda: gated(done.set)).start()
    assert done.wait(2)


def test_a_failure_releases_the_gate():
    try:
        gated(int, "not a number")
    except ValueError:
        pass
    assert gated(lambda: "free") == "free"
