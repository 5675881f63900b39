#!/usr/bin/env python3
"""PHOLD on SimPy, the model of bench/phold.ts: LPS logical processes, PER_LP initial events per LP
at Exp(1), each event sends one event to a uniformly random LP after LOOKAHEAD + Exp(1), run to END.

An event is a SimPy timeout whose callback schedules the next one: no processes (generators), so
the figure is SimPy's event loop, as close to a bare scheduler as the library allows.

usage: phold-simpy.py [LPS] [PER_LP] [END] [SEED]; prints one line with events= and events_per_s=.
"""
import random
import sys
import time

import simpy

LOOKAHEAD = 0.1


def main() -> None:
    lps = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    per_lp = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    end = float(sys.argv[3]) if len(sys.argv) > 3 else 200.0
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    env = simpy.Environment()
    handled = [0] * lps

    def arrive(lp: int):
        def on_event(_event) -> None:
            handled[lp] += 1
            # The receiving LP is drawn when the event is sent; which one does not change the count.
            env.timeout(LOOKAHEAD + rng.expovariate(1.0)).callbacks.append(arrive(rng.randrange(lps)))
        return on_event

    for lp in range(lps):
        for _ in range(per_lp):
            env.timeout(rng.expovariate(1.0)).callbacks.append(arrive(lp))
    start = time.perf_counter()
    env.run(until=end)
    wall = time.perf_counter() - start
    events = sum(handled)
    print(f"simpy phold LPs={lps} per_lp={per_lp} end={end:g} events={events} wall_s={wall:.3f} events_per_s={events / wall:.0f}")


if __name__ == "__main__":
    main()
