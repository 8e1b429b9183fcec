"""Smoothed parameters that cost nothing while they hold still.

A `Control` feeds attributes of pyo objects ("sinks": a filter's freq, a Sig's mul …).
While its value holds still the sinks get a plain float, the cheapest thing pyo reads
(a SigTo per parameter would cost ~2.3 ns a sample each, all the time: with some 90
parameters, lane gains included, about a sixth of a busy render). When the value
changes, a `Linseg` plays from the old value to the new one over SMOOTH_TIME, so the
change never clicks, and `Controls.settle`, called once per block, hands the sinks the
plain target again and stops the ramp once it has arrived.

pyo computes objects in the order they were made, and an object made before its
input reads that input's previous block. A ramp therefore holds the old value for
its first block, and the sinks move onto it only at the next block boundary: every
sink sees the old value, then the ramp, wherever its ramp was made. Ramps start at
block boundaries, so Python knows where a ramp is on every sample, and a change
during a glide starts a new ramp from where the old one has got to.
"""

from __future__ import annotations

import math
from typing import Any

from chronus_tui.synth.pyolib import attribute_setter

SMOOTH_TIME = 0.02  # seconds: every change of a smoothed parameter glides this long


class Control:
    """One smoothed value and the (object, attribute) pairs it sets."""

    def __init__(self, pyo, owner: Controls, value: float) -> None:
        self.value = float(value)
        self._owner = owner
        self._linseg = pyo.Linseg([(0.0, self.value), (1.0, self.value)])  # kept: it owns the stream
        self._ramp = self._linseg._base_objs[0]  # its one stream: what sinks read, played directly
        self._sinks: dict[tuple[int, str], Any] = {}  # (id(obj), attr) -> setter
        self._ramp_from = self._ramp_to = self.value
        self._started = 0  # sample at which the ramp was (re)started
        self.gliding = False  # the ramp is playing
        self._on_ramp = False  # the sinks read the ramp

    @property
    def heard(self) -> bool:
        """Whether what it scales can be heard: it is above 0, or still gliding."""
        return self.value > 0 or self.gliding

    def attach(self, obj: Any, attr: str) -> None:
        """Let `obj.attr` follow this control from now on."""
        setter = self._sinks[(id(obj), attr)] = attribute_setter(obj, attr)
        setter(self._ramp if self._on_ramp else self.value)

    def detach(self, obj: Any, attr: str) -> None:
        """`obj.attr` no longer follows this control (it keeps its current value)."""
        del self._sinks[(id(obj), attr)]

    def set(self, value: float, now: int, glide: bool = True) -> None:
        """The new value, from sample `now` (a block boundary): a glide, or a jump."""
        value = float(value)
        if value == self.value:
            return
        self._owner.moved = True
        if not glide or not self._sinks:
            self.value = value
            self._land()
            return
        self._ramp_from = self._position(now) if self.gliding else self.value
        self._ramp_to = self.value = value
        hold, ramp = self._owner.hold_time, SMOOTH_TIME
        self._ramp.setList([(0.0, self._ramp_from), (hold, self._ramp_from), (hold + ramp, value)])
        self._ramp.play(0, 0)
        self._started = now
        self.gliding = True
        self._owner.gliding.add(self)

    def settle(self, now: int) -> None:
        """At a block boundary: onto the ramp after its first block, back to the plain
        value once it has arrived (and every sink has seen it arrive)."""
        elapsed = now - self._started
        if elapsed >= self._owner.ramp_samples + 2 * self._owner.hold_samples:
            self._land()
        elif elapsed > 0 and not self._on_ramp:
            self._on_ramp = True
            for setter in self._sinks.values():
                setter(self._ramp)

    def _position(self, now: int) -> float:
        ramped = (now - self._started - self._owner.hold_samples) / self._owner.ramp_samples
        return self._ramp_from + (self._ramp_to - self._ramp_from) * min(1.0, max(0.0, ramped))

    def _land(self) -> None:
        if self.gliding:
            self.gliding = self._on_ramp = False
            self._ramp.stop(0)
            self._owner.gliding.discard(self)
        for setter in self._sinks.values():
            setter(self.value)


class Controls:
    """Makes Controls, and settles the gliding ones once per block."""

    def __init__(self, pyo, sr: int, buffer: int) -> None:
        self._pyo = pyo
        self.ramp_samples = math.ceil(SMOOTH_TIME * sr)
        self.hold_samples = buffer
        self.hold_time = buffer / sr
        self.gliding: set[Control] = set()
        self.moved = True  # a control was set since the last settle (at first: made)

    def new(self, value: float) -> Control:
        return Control(self._pyo, self, value)

    def settle(self, now: int) -> bool:
        """Once per block: settle the gliding controls. Returns whether any control has
        moved (was set, or glided) since the last call: only then can what follows their
        values have to change."""
        moved = self.moved or bool(self.gliding)
        for control in list(self.gliding):
            control.settle(now)
        self.moved = False
        return moved
