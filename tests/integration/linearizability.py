"""A linearizability checker for histories of one register (a config): writes, compare-and-set
and reads, after Wing & Gong with Lowe's memoisation (the algorithm Knossos and Porcupine use).

An operation is (kind, invoke time, completion time, outcome). Its effect takes place at one
instant between the two; the history is linearizable when some order of those instants, one
per operation, agrees with each operation's outcome under the register's rules:

- write(v): the register becomes v;
- cas(expected, v): succeeded — the register held `expected` and becomes v; failed — it did
  not hold `expected` and stays as it is;
- read: returned the register's value (None: the config did not exist).

An operation whose outcome is unknown (timeout, 503, connection lost) may have taken effect at
any instant after its invocation, or never: it gets an infinite completion time and need not
be placed. Unknown reads tell nothing and are left out by the caller.
"""
import math
from dataclasses import dataclass
from typing import Optional

UNKNOWN = "unknown"


@dataclass
class Op:
    kind: str                # "write", "cas" or "read"
    invoke: float
    complete: float          # math.inf when the outcome is unknown
    outcome: str             # "ok", "fail" (cas only) or UNKNOWN
    value: Optional[str] = None     # written, or read
    expected: Optional[str] = None  # cas
    client: str = ""

    def __repr__(self):
        what = {"write": f"write({self.value!r})", "read": f"read()={self.value!r}",
                "cas": f"cas({self.expected!r}->{self.value!r})"}[self.kind]
        return f"{self.client}:{what}:{self.outcome}@[{self.invoke:.3f},{self.complete:.3f}]"


def _step(op, state):
    """The register after `op` at `state`, or a marker that `op` cannot take place there."""
    if op.kind == "write":
        return True, op.value
    if op.kind == "read":
        return op.value == state, state
    # cas
    if op.outcome == "fail":
        return state != op.expected, state
    return state == op.expected, op.value


def check(ops, initial=None, max_states=500_000):
    """Returns (True, order) for a linearizable history, (False, explanation) otherwise.

    Written values are expected to be unique. An operation of unknown outcome whose value
    nobody observed (no read returned it, no CAS expected it) is first left out: a
    linearization without it is one of the whole history, where it simply never took effect.
    Only when that fails is the whole history searched (such an operation can still matter:
    a CAS may have failed because of it)."""
    observed = {op.value for op in ops if op.kind == "read"} | \
        {op.expected for op in ops if op.kind == "cas"}
    reduced = [op for op in ops if op.outcome != UNKNOWN or op.value in observed]
    if len(reduced) < len(ops):
        ok, detail = _search(reduced, initial, max_states)
        if ok:
            return ok, detail
    return _search(ops, initial, max_states)


def _search(ops, initial, max_states):
    ops = sorted(ops, key=lambda o: o.invoke)
    n = len(ops)
    required = 0
    for i, op in enumerate(ops):
        if op.outcome != UNKNOWN:
            required |= 1 << i
    seen = set()
    # Depth-first over (placed set, register value); each frame remembers the order so far.
    stack = [(0, initial, [])]
    explored = 0
    while stack:
        placed, state, order = stack.pop()
        if placed & required == required:
            return True, order
        if (placed, state) in seen:
            continue
        seen.add((placed, state))
        explored += 1
        if explored > max_states:
            raise RuntimeError(f"linearizability search gave up after {max_states} states")
        # An operation may go next only if it was invoked before every unplaced operation
        # completed (otherwise one of those must come first).
        first_completion = min((ops[i].complete for i in range(n) if not placed >> i & 1),
                               default=math.inf)
        definite, unknown = [], []
        for i in range(n):
            if placed >> i & 1:
                continue
            op = ops[i]
            if op.invoke > first_completion:
                break  # sorted by invocation: no later one can go first either
            allowed, after = _step(op, state)
            if allowed:
                (unknown if op.outcome == UNKNOWN else definite).append((placed | 1 << i, after, order + [i]))
        # Depth-first pops the last pushed: try operations with a known outcome first.
        stack.extend(reversed(unknown))
        stack.extend(reversed(definite))
    # The longest prefix found, to explain the failure.
    return False, f"no linearization of {n} operations: {ops}"
