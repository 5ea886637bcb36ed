"""The log worker yields the CPU to the calls: its thread runs at LOG_WORKER_NICE, the rest of
the process (the event loop) keeps its priority."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from spanlens.requestlog.priority import lower_this_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def test_only_the_calling_thread_gets_the_lower_priority():
    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def worker():
        seen["lowered"] = lower_this_thread(main_before + 5)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["lowered"] is True
    assert seen["nice"] == min(main_before + 5, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


def test_zero_leaves_the_priority_alone():
    seen = {}

    def worker():
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["lowered"] = lower_this_thread(0)
        seen["same"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == {"lowered": False, "same": True}
