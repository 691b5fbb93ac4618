"""server.collector: a serving process's long-lived heap is frozen out of collections, and cycles made
afterwards are still collected (in a child process: freezing the test runner's own heap would keep every app
the suite builds)."""

from __future__ import annotations

import subprocess
import sys

from common.settings import REPO_ROOT

_CHILD = """
import gc, weakref
from server.collector import OLDER_THRESHOLDS, YOUNG_THRESHOLD, settle

class Node:
    pass

built = [Node() for _ in range(1000)]           # what an app holds for the life of the process
settle()
assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
assert not any(o is built for o in gc.get_objects()), "the long-lived heap is no collection's to walk"
assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)

a, b = Node(), Node()                            # a request's reference cycle, made after settling
a.other, b.other = b, a
gone = []
weakref.finalize(a, gone.append, "a")
del a, b
gc.collect()
assert gone == ["a"], "a cycle made after settle() is still collected"
print("ok")
"""


def test_settle_freezes_the_built_heap_and_still_collects_later_cycles() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _CHILD], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
