"""Controls: smoothed values that tell the graph when anything following them may have to change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chronus_tui.synth.controls import Controls
from chronus_tui.synth.pyolib import pyo

BUFFER = 256


@pytest.fixture
def controls() -> Iterator[Controls]:
    server = pyo.Server(sr=48000, nchnls=2, buffersize=BUFFER, duplex=0, audio="manual")
    server.setVerbosity(1)
    server.boot()
    try:
        yield Controls(pyo, 48000, BUFFER)
    finally:
        server.shutdown()


def test_settle_says_when_a_control_has_moved(controls):
    mix = controls.new(0.0)
    assert controls.settle(0)  # the first block: everything is new
    assert not controls.settle(BUFFER)
    mix.set(0.0, 2 * BUFFER)  # the same value: nothing moved
    assert not controls.settle(2 * BUFFER)
    mix.set(1.0, 2 * BUFFER, glide=False)  # a jump (a load while stopped) moves it too
    assert mix.heard and controls.settle(3 * BUFFER)
    assert not controls.settle(4 * BUFFER)


def test_a_glide_keeps_moving_until_it_has_landed(controls):
    mix = controls.new(1.0)
    mix.attach(pyo.Sig(0.0), "mul")
    controls.settle(0)
    mix.set(0.0, BUFFER)
    now = BUFFER
    while mix.gliding:
        now += BUFFER
        assert controls.settle(now)  # the block it lands in included
    assert not mix.heard
    assert not controls.settle(now + BUFFER)
