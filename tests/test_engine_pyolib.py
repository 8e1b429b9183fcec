"""pyolib: pyo's single-precision build, and its shortcuts around pyo: objects that read
their inputs without an InputFader, objects made stopped, starting objects without the
trigger streams nobody reads, and the cycle collector paused."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chronus_tui.synth.pyolib import (
    attribute_setter,
    collector_paused,
    created_stopped,
    direct_inputs,
    pyo,
    set_running,
)

SR = 48000
BLOCKS = 8
BUFFER = 256


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYO_GUI_WX": "0", "PATH": "/usr/bin:/bin"})


def test_the_engine_runs_on_pyos_single_precision_build() -> None:
    loaded = run_python("import sys, chronus_tui.synth.pyolib as lib; "
                        "print('pyo._pyo' in sys.modules, 'pyo._pyo64' in sys.modules, lib.SAMPLE_TYPECODE)")
    assert loaded.stdout.split() == ["True", "False", "f"]


def test_pyolib_refuses_to_run_on_the_double_precision_build_loaded_before_it() -> None:
    result = run_python("import pyo64, chronus_tui.synth.pyolib")
    assert result.returncode != 0
    assert "ImportError: pyo64 was imported before chronus_tui.synth.pyolib" in result.stderr


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


def test_objects_made_stopped_start_and_sound_like_any_other(tmp_path):
    def build() -> list[Any]:
        source = pyo.Sine(440)
        with direct_inputs(faded=[source]), created_stopped():
            stopped = pyo.Biquad(source, freq=1000)
            envelope = pyo.TrigEnv(pyo.Sig(0), pyo.DataTable(2, init=[1.0, 1.0]))
        assert not stopped.isPlaying() and not stopped._in_fader.isPlaying()
        assert not envelope.isPlaying() and not envelope["trig"].isPlaying()
        set_running([stopped], True)
        assert stopped._in_fader.isPlaying()
        return [pyo.Biquad(source, freq=1000), stopped]

    started, stopped = recorded(tmp_path, build)
    assert np.abs(started).max() > 0.1
    assert np.array_equal(started, stopped)


def test_created_stopped_lets_pyo_start_new_objects_again_afterwards(tmp_path):
    with offline_server(tmp_path / "out.wav"):
        with pytest.raises(RuntimeError), created_stopped():
            raise RuntimeError("while building")
        assert pyo.Sine().isPlaying()


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_paused_restores_the_collector_as_it_was(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(RuntimeError), collector_paused():
            with collector_paused():
                pass
            assert not gc.isenabled()
            raise RuntimeError("mid-render")
        assert gc.isenabled() == enabled
    finally:
        gc.enable()


def test_set_running_leaves_objects_with_time_streams_to_pyo(tmp_path):
    """TableRec's time stream is not one of its streams: pyo's own play starts it too."""
    with offline_server(tmp_path / "out.wav"), created_stopped():
        recorder = pyo.TableRec(pyo.Sine(), pyo.NewTable(0.1))
        set_running([recorder], True)
        assert recorder.isPlaying() and recorder["time"].isPlaying()
        set_running([recorder], False)
        assert not recorder.isPlaying()


def test_attribute_setter_takes_numbers_and_pyo_objects_as_pyos_setters_do(tmp_path):
    def build() -> list[Any]:
        source = pyo.Sine(freq=[500.0, 700.0])
        by_pyo, direct = pyo.Biquad(source, freq=300.0), pyo.Biquad(source, freq=300.0)
        sweep = pyo.Sine(freq=40.0, mul=400.0, add=1000.0)
        by_pyo.freq, by_pyo.q = sweep, 3.0
        set_freq, set_q = attribute_setter(direct, "freq"), attribute_setter(direct, "q")
        set_freq(sweep)
        set_q(3.0)
        stereo = pyo.Sig([0.2, 0.7])
        by_pyo.mul = stereo
        attribute_setter(direct, "mul")(stereo)  # stream by stream
        return [by_pyo[0], direct[0], by_pyo[1], direct[1]]

    left, direct_left, right, direct_right = recorded(tmp_path, build)
    assert np.abs(right).max() > 2 * np.abs(left).max() > 0.02
    assert np.array_equal(left, direct_left) and np.array_equal(right, direct_right)
