"""What a device's counter counts, in words a result can carry.

The firmware only says which counter it reads and at what rate. Whether that is time,
cycles or instructions depends on where it runs: under QEMU with ``-icount shift=0``
virtual time advances one nanosecond per instruction, so any virtual-time counter counts
instructions, never real time.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcubench.boards import EmulatorSpec
from mcubench.protocol.codes import CounterSource


@dataclass(frozen=True)
class CounterUnit:
    unit: str  # "instructions", "cycles" or "ns"
    per_tick: float  # units per raw counter tick
    note: str  # one line on what is counted, for reports

    def convert(self, ticks: int) -> float:
        return ticks * self.per_tick


def counter_unit(
    source: CounterSource, counter_hz: int, emulator: EmulatorSpec | None
) -> CounterUnit:
    """The unit for ``source`` on real hardware (``emulator`` None) or under QEMU."""
    if source is CounterSource.MONOTONIC_NS:
        return CounterUnit("ns", 1.0, "host CLOCK_MONOTONIC (native build; not deterministic)")
    if source is CounterSource.MINSTRET:
        where = "QEMU icount" if emulator else "hardware"
        return CounterUnit("instructions", 1.0, f"minstret, retired instructions ({where})")
    if emulator is not None:
        if source is CounterSource.MCYCLE:
            return CounterUnit("instructions", 1.0, "mcycle under QEMU icount = instructions")
        hz = emulator.counter_hz or counter_hz
        per_tick = 1e9 / hz
        return CounterUnit(
            "instructions", per_tick,
            f"{source.name} at {hz / 1e6:g} MHz of QEMU virtual time, -icount shift=0: "
            f"{per_tick:g} instructions per tick",
        )
    if source is CounterSource.DWT_CYCCNT:
        return CounterUnit("cycles", 1.0, "DWT CYCCNT core cycles")
    if source is CounterSource.SYSTICK:
        return CounterUnit("cycles", 1.0, f"SysTick at the core clock ({counter_hz / 1e6:g} MHz)")
    return CounterUnit("cycles", 1.0, "mcycle core cycles")
