"""The one import of pyo for the engine: its single-precision build.

Every synth module (graph, offline, the synth process) must take pyo from here, and
the Server must be `pyolib.pyo.Server`. pyo chooses its precision at its first import
in a process (`pyo64` loads its double-precision core, and a later `import pyo`
returns that one too), so import this module before anything imports `pyo64`.

Why single precision: every stream is a pass over a block of C floats, half the
memory of doubles, so a busy graph renders faster. Nothing in the graph
needs more: the sequencer's clock, which would (its sample count and step position
lose whole samples in float32 within minutes), is worked out in Python in double
precision, and the graph only counts samples and fires each lane's hits on the ones
written for it (sequencer.LaneHits). Table and envelope positions that pyo accumulates
sample by sample are doubles in either build.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

if not os.environ.get("PYO_GUI_WX"):
    os.environ["PYO_GUI_WX"] = "0"  # pyo must not look for wxPython (slow, prints)

import pyo

if "pyo._pyo" not in sys.modules:
    # pyo picks its precision at its first import: `import pyo64` earlier in this
    # process loaded the double-precision core, and `import pyo` silently reuses it.
    raise ImportError("pyo64 was imported before chronus_tui.synth.pyolib: import pyolib first "
                      "so the engine runs on pyo's single-precision build")

SAMPLE_TYPECODE = "f"  # pyo's samples (and its tables' points), as an array typecode

__all__ = ["SAMPLE_TYPECODE", "attribute_setter", "collector_paused", "created_stopped", "direct_inputs",
           "pyo", "set_running", "value_reader"]

# pyo's modules whose classes give their inputs an InputFader (see direct_inputs)
_FADING_MODULES = [module for name, module in sys.modules.items()
                   if name.startswith("pyo.lib.") and hasattr(module, "InputFader")]


def set_running(objects: Iterable[Any], on: bool) -> None:
    """Start or stop pyo objects; those already so are left alone (commands run inside
    the audio callback).

    What pyo's play and stop would start or stop is started or stopped directly: the
    object's streams and those of its InputFaders (pyo's play and stop check their
    arguments and look for parts to pass the call on to; this way skips both). Its
    end-of-event trigger streams (TrigEnv's obj["trig"]), which pyo's play starts too,
    stay stopped: the engine never reads one, and each costs a pass a block. An object
    with players or time streams goes through pyo's play and stop."""
    for obj in objects:
        if obj._base_objs[0]._getStream().isPlaying() == on:  # obj.isPlaying() without its argument check
            continue
        if obj._base_players is not None or obj._time_objs is not None:
            if on:
                obj.play()
                if obj._trig_objs is not None:
                    obj._trig_objs.stop()
            else:
                obj.stop()
            continue
        for stream in _streams(obj, triggers=not on):
            if on:
                stream.play(0, 0)
            else:
                stream.stop(0)


def _streams(obj: Any, triggers: bool) -> list[Any]:
    """`obj`'s streams, its InputFaders' (not a _DirectInput's: that input has readers of
    its own) and, with `triggers`, its end-of-event trigger streams."""
    faders = [fader for fader in (getattr(obj, "_in_fader", None), getattr(obj, "_in_fader2", None))
              if isinstance(fader, pyo.InputFader)]
    streams = [*obj._base_objs, *(stream for fader in faders for stream in fader._base_objs)]
    if triggers and obj._trig_objs is not None:
        trig_objs = obj._trig_objs if isinstance(obj._trig_objs, list) else [obj._trig_objs]
        streams += [stream for trig in trig_objs for stream in trig._base_objs]
    return streams


def value_reader(obj: Any) -> Callable[[], float]:
    """`obj.get()` without pyo's per-call argument checks (the engine reads several
    values every block): the first stream's current value."""
    return obj._base_objs[0]._getStream().getValue


def attribute_setter(obj: Any, attr: str) -> Callable[[Any], None]:
    """`obj.attr = value` without pyo's per-call argument checks (a pattern switch
    sets hundreds inside the audio callback): the value, a number, one
    stream of a pyo object (`x._base_objs[0]`) or a pyo object (its streams in turn),
    goes straight to each of obj's streams. (obj's Python-side copy of the attribute is
    not updated: read it from where it was set.)"""
    methods = [getattr(base, f"set{attr.capitalize()}") for base in obj._base_objs]

    def set_value(value: Any) -> None:
        if isinstance(value, pyo.PyoObject):
            streams = value._base_objs
            for index, method in enumerate(methods):
                method(streams[index % len(streams)])
        else:
            for method in methods:
                method(value)

    return set_value


class _DirectInput(list):
    """Stands in for pyo's InputFader: the input's own streams, which the object reads
    as they are. The object passes its play and stop on to its fader; this has nothing
    to start or stop (stopping the input itself would silence its other readers)."""

    def play(self, *args: Any, **kwargs: Any) -> _DirectInput:
        return self

    def stop(self, *args: Any, **kwargs: Any) -> _DirectInput:
        return self

    def setInput(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("this object was made with direct_inputs(): its input is fixed")


@contextmanager
def direct_inputs(faded: Collection[Any] = ()) -> Iterator[None]:
    """pyo objects made inside read their inputs directly, not through an InputFader,
    except the inputs in `faded` (the ones to be replaced later with setInput).

    pyo gives every object's input an InputFader, so that setInput can crossfade to a
    new one; until then it copies its input every block: some 60 copies a sample in a
    busy graph, for inputs that never change."""
    previous = [module.InputFader for module in _FADING_MODULES]

    def input_fader(source: Any) -> Any:
        if any(source is kept for kept in faded) or not isinstance(source, pyo.PyoObject):
            return pyo.InputFader(source)
        return _DirectInput(source.getBaseObjects())

    for module in _FADING_MODULES:
        module.InputFader = input_fader
    try:
        yield
    finally:
        for module, fader in zip(_FADING_MODULES, previous, strict=True):
            module.InputFader = fader


@contextmanager
def created_stopped() -> Iterator[None]:
    """pyo objects made inside start stopped (start them with set_running).

    pyo starts every object it makes; objects that are stopped again at once (a lane's,
    until it has a track) cost twice, starting and stopping, at every build."""
    init_play = pyo.PyoObject._init_play
    pyo.PyoObject._init_play = _stay_stopped
    try:
        yield
    finally:
        pyo.PyoObject._init_play = init_play


def _stay_stopped(obj: Any) -> None:
    """Stands in for PyoObject._init_play, which starts a new object."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off: the ~1000 pyo objects of a graph, made in a row,
    trigger collection after collection of the growing heap, and each collection
    during a render looks through them all again.
    The code that runs meanwhile makes no reference cycles, so nothing piles up."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
