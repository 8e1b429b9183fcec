"""pyolib's shortcuts around pyo: objects that read their inputs without an InputFader,
and starting objects without the trigger streams nobody reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chronus_tui.engine.pyolib import direct_inputs, pyo, set_running

SR = 48000
BLOCKS = 8
BUFFER = 256


@contextmanager
def offline_server(path: Path) -> Iterator[Any]:
    server = pyo.Server(sr=SR, nchnls=1, buffersize=BUFFER, duplex=0, audio="offline")
    server.setVerbosity(1)
    server.boot()
    server.recordOptions(dur=BLOCKS * BUFFER / SR, filename=str(path), fileformat=0, sampletype=3)
    try:
        yield server
    finally:
        server.stop()
        server.shutdown()


def recorded(tmp_path: Path, build: Callable[[], list[Any]]) -> list[np.ndarray]:
    """The first BLOCKS blocks of each signal `build` makes."""
    with offline_server(tmp_path / "out.wav") as server:
        signals = build()
        tables = [pyo.NewTable(BLOCKS * BUFFER / SR) for _ in signals]
        recorders = [pyo.TableRec(signal, table).play()
                     for signal, table in zip(signals, tables, strict=True)]
        server.start()
        del recorders
        return [np.asarray(table.getTable()) for table in tables]


def test_an_object_made_with_direct_inputs_sounds_the_same_without_a_fader(tmp_path):
    def build() -> list[Any]:
        source = pyo.Sine(freq=3000.0)
        faded = pyo.Biquad(source, freq=800.0, q=4.0)
        with direct_inputs():
            direct = pyo.Biquad(source, freq=800.0, q=4.0)
        assert not isinstance(direct._in_fader, pyo.InputFader)
        return [faded, direct]

    faded, direct = recorded(tmp_path, build)
    assert np.abs(faded).max() > 0.1
    assert np.array_equal(faded, direct)


def test_stopping_a_direct_reader_leaves_its_input_playing(tmp_path):
    with offline_server(tmp_path / "out.wav"):
        source = pyo.Sine(freq=440.0)
        with direct_inputs():
            reader = pyo.MidiAdsr(source)
        reader.stop()
        assert source.isPlaying() and not reader.isPlaying()
        reader.play()
        assert source.isPlaying() and reader.isPlaying()


def test_inputs_named_faded_keep_their_fader_and_can_be_replaced(tmp_path):
    with offline_server(tmp_path / "out.wav"):
        source, other = pyo.Sine(freq=440.0), pyo.Sine(freq=550.0)
        with direct_inputs(faded=[source]):
            crossfading = pyo.Interp(other, source)
            fixed = pyo.Biquad(other)
        assert isinstance(crossfading._in_fader2, pyo.InputFader)
        crossfading.setInput2(other, fadetime=0.01)
        with pytest.raises(RuntimeError, match="input is fixed"):
            fixed.setInput(source)


def test_direct_inputs_restores_pyos_faders_afterwards(tmp_path):
    with offline_server(tmp_path / "out.wav"):
        with direct_inputs():
            with direct_inputs(faded=()):
                pass
            inner = pyo.Biquad(pyo.Sine())
        after = pyo.Biquad(pyo.Sine())
        assert not isinstance(inner._in_fader, pyo.InputFader)
        assert isinstance(after._in_fader, pyo.InputFader)


def test_set_running_starts_an_object_but_not_its_end_of_event_triggers(tmp_path):
    with offline_server(tmp_path / "out.wav"):
        envelope = pyo.TrigEnv(pyo.Sig(0), pyo.DataTable(2, init=[1.0, 1.0]))
        set_running([envelope], False)
        set_running([envelope], True)
        assert envelope.isPlaying()
        assert not envelope["trig"].isPlaying()


def test_set_running_starts_and_stops_what_pyo_would(tmp_path):
    """Plain objects (their streams started directly) and faded ones (through pyo) end up
    playing, or stopped, as pyo's own play and stop leave them, and sound the same."""
    def build() -> list[Any]:
        source = pyo.Sine(440)
        with direct_inputs():
            plain = pyo.Biquad(source, freq=1000)
        faded = pyo.Biquad(source, freq=1000)
        for obj in (plain, faded):
            set_running([obj], False)
            assert not obj.isPlaying()
            set_running([obj], True)
            assert obj.isPlaying()
        assert faded._in_fader.isPlaying()
        return [plain, faded]

    plain, faded = recorded(tmp_path, build)
    assert np.abs(plain).max() > 0.1
    assert np.allclose(plain, faded)
