"""The original Music Chronus's own scripts, replayed: every message they send is accepted.

The sequences below say, in our words, what the original's `examples/`, `compositions/` and
`chronusctl.py` send: each message's address and its arguments with the types the scripts
gave them (python-osc sends a Python int as `i`, a float as `f`). Their loops are cut to a
round or two, their sleeps left out. Three compositions call a helper (`ChronusOSC`) that the
original repository does not hold; its methods are read as the addresses they name.

The replay covers the addresses the rest of issue 16 added for these scripts too: the acid
insert's accent parameters, `/gate/acid1`, `/engine/start|stop` and `/engine/record/*`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.headless import Headless, ready
from support.osc import OscClient, free_udp_port, osc_fixture  # noqa: F401

from chronus_tui.model import PARAM_INDEX, VOICES
from chronus_tui.osc.routes import LEGACY_GATES, LEGACY_PARAMS, REPLY_BYTES, ROUTES, address_map
from chronus_tui.osc.schema import schema_json
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

Message = tuple[str, list[Any]]
Osc = tuple[OscServer, OscClient]

# -- what the original's scripts send -----------------------------------------------------


def _hz(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _hits(pattern: str) -> Iterator[tuple[int, float]]:
    """Each hit of an X/x/. pattern with the velocity the original's sequencers gave it."""
    for index, char in enumerate(pattern):
        if char in "Xx":
            yield index, 1.0 if char == "X" else 0.6


def chronusctl() -> list[Message]:
    """Every subcommand of chronusctl.py once: schema in its three formats, status, seq-status,
    list, start, stop, seq-start, seq-stop, `set` (the value always sent as a float), `gate`
    (1 or 0 as an int) and `test` (voice1 at 440.0, its gate opened and closed)."""
    return [
        ("/engine/schema", ["stdout"]),
        ("/engine/schema", ["json"]),
        ("/engine/schema", ["file"]),
        ("/engine/status", []),
        ("/seq/status", []),
        ("/engine/list", []),
        ("/seq/start", []),
        ("/seq/stop", []),
        ("/mod/voice1/freq", [440.0]),
        ("/mod/voice1/filter/freq", [1200.0]),
        ("/mod/acid1/cutoff", [900.0]),
        ("/gate/voice1", [1]),
        ("/gate/voice1", [0]),
        ("/mod/voice1/freq", [440.0]),
        ("/gate/voice1", [1]),
        ("/gate/voice1", [0]),
        ("/engine/stop", []),
        ("/engine/start", []),
    ]


def musical_demo() -> list[Message]:
    """examples/musical_demo.py: voice1 through the old names only. A slow ADSR on adsr1, the
    filter on filter1 (an int for freq), then each chord of Am–F–C–G arpeggiated: sine1/freq a
    slightly detuned float and /gate/adsr1 1.0 per note, /gate/adsr1 0.0 to release; it ends on
    a low A with a longer release and a darker filter."""
    script: list[Message] = [
        ("/mod/adsr1/attack", [0.5]),
        ("/mod/adsr1/decay", [0.3]),
        ("/mod/adsr1/sustain", [0.4]),
        ("/mod/adsr1/release", [2.0]),
        ("/mod/filter1/freq", [2000]),
        ("/mod/filter1/q", [1.0]),
    ]
    for chord in (
        [220.0, 261.63, 329.63],
        [174.61, 220.0, 261.63],
        [261.63, 329.63, 392.0],
        [196.0, 246.94, 293.66],
    ):
        for index, freq in enumerate(chord):
            script += [("/mod/sine1/freq", [freq * (1 + index * 0.002)]), ("/gate/adsr1", [1.0])]
        script.append(("/gate/adsr1", [0.0]))
    return [
        *script,
        ("/mod/adsr1/release", [4.0]),
        ("/mod/sine1/freq", [110.0]),
        ("/mod/filter1/freq", [500]),
        ("/gate/adsr1", [1.0]),
        ("/gate/adsr1", [0.0]),
    ]


def test_polyphony() -> list[Message]:
    """examples/test_polyphony.py: the old names (sine1/freq 440 as an int, adsr1's gate), a C
    major chord on voices 1–4 (freq, amp 0.2, gate 1.0 as floats), a fast freq sweep of ints
    on voice1, a filter sweep, reverb and delay with sends, an Am7 chord with envelopes and
    sends on every voice, and /engine/list with an int argument, which the original ignored."""
    voices = VOICES[:4]
    script: list[Message] = [("/mod/sine1/freq", [440]), ("/gate/adsr1", [1.0]), ("/gate/adsr1", [0.0])]
    for voice, freq in zip(voices, (261.63, 329.63, 392.0, 523.25), strict=True):
        script += [(f"/mod/{voice}/freq", [freq]), (f"/mod/{voice}/amp", [0.2]), (f"/gate/{voice}", [1.0])]
    script += [(f"/gate/{voice}", [0.0]) for voice in voices]
    script += [
        ("/gate/voice1", [1.0]),
        *[("/mod/voice1/freq", [200 + i * 10]) for i in range(50)],
        ("/gate/voice1", [0.0]),
        ("/mod/voice1/freq", [220]),
        ("/gate/voice1", [1.0]),
        *[("/mod/voice1/filter/freq", [cutoff]) for cutoff in (200, 500, 1000, 2000, 5000, 1000)],
        ("/gate/voice1", [0.0]),
        ("/mod/reverb1/mix", [0.5]),
        ("/mod/reverb1/room", [0.8]),
        ("/mod/voice1/send/reverb", [0.6]),
        ("/gate/voice1", [1.0]),
        ("/gate/voice1", [0.0]),
        ("/mod/delay1/time", [0.25]),
        ("/mod/delay1/feedback", [0.5]),
        ("/mod/delay1/mix", [0.4]),
        ("/mod/voice2/send/delay", [0.7]),
        ("/mod/voice2/freq", [440]),
        ("/gate/voice2", [1.0]),
        ("/gate/voice2", [0.0]),
        ("/mod/reverb1/mix", [0.6]),
        ("/mod/reverb1/room", [0.9]),
        ("/mod/delay1/time", [0.4]),
        ("/mod/delay1/feedback", [0.4]),
    ]
    for voice, (freq, reverb, delay) in zip(
        voices, ((220.0, 0.7, 0.3), (261.63, 0.6, 0.4), (329.63, 0.5, 0.5), (392.0, 0.8, 0.2)), strict=True
    ):
        script += [
            (f"/mod/{voice}/freq", [freq]),
            (f"/mod/{voice}/amp", [0.15]),
            (f"/mod/{voice}/send/reverb", [reverb]),
            (f"/mod/{voice}/send/delay", [delay]),
            (f"/mod/{voice}/adsr/attack", [0.5]),
            (f"/mod/{voice}/adsr/release", [2.0]),
            (f"/gate/{voice}", [1.0]),
        ]
    return script + [(f"/gate/{voice}", [0.0]) for voice in voices] + [("/engine/list", [1])]


def test_sequencer_pyo() -> list[Message]:
    """examples/test_sequencer_pyo.py: a sequencer in the script, one bar of each of its five
    patterns: every hit sets sine1/freq (220.0 on an accent, else 110.0) and opens and closes
    /gate/adsr1 with 1.0 and 0.0."""
    script: list[Message] = []
    for pattern in (
        "X...x...X...x...",
        "X.X.X.X.X.X.X.X.",
        "X..x..X...x.x...",
        "X..x..x.X..x..x.",
        "X.......x.......",
    ):
        for _, velocity in _hits(pattern):
            script += [
                ("/mod/sine1/freq", [220.0 if velocity == 1.0 else 110.0]),
                ("/gate/adsr1", [1.0]),
                ("/gate/adsr1", [0.0]),
            ]
    return script


def sequencer_pyo_integrated() -> list[Message]:
    """examples/sequencer_pyo_integrated.py: three tracks (kick 60 Hz, snare 200 Hz, hihat
    800 Hz) all on the module it calls adsr1: each hit sends /mod/adsr1/freq (the base
    frequency times 1 + velocity/127, a float) and /gate/adsr1 1.0, then 0.0."""
    script: list[Message] = []
    tracks = {"X...x...X...x...": 60.0, "....X.......X...": 200.0, "x.x.x.x.x.x.x.x.": 800.0}
    for pattern, base in tracks.items():
        for _, velocity in _hits(pattern):
            midi_velocity = 127 if velocity == 1.0 else 64
            script += [
                ("/mod/adsr1/freq", [base * (1 + midi_velocity / 127)]),
                ("/gate/adsr1", [1.0]),
                ("/gate/adsr1", [0.0]),
            ]
    return script


def poly_sequencer() -> list[Message]:
    """examples/poly_sequencer.py: a four-track sequencer in the script. Adding a track sets its
    voice's reverb and delay sends (floats); each hit sets freq (Hz from MIDI numbers and note
    names, 8000 for the hihat), amp (base 0.3 times the velocity), filter/freq (filter_freq plus
    velocity times accent_boost, past 8000 for the hihat) and the gate 1.0, then 0.0. One bar
    of its techno preset."""
    tracks = [
        ("voice1", "X.x.X.x.X.x.X.x.", [55.0], 150.0, 1500.0, 0.0, 0.0),
        ("voice2", "..x...x...x.x...", [_hz(n) for n in (36, 36, 39, 36)], 800.0, 2000.0, 0.0, 0.0),
        ("voice3", "....x.......x...", [_hz(n) for n in (60, 63, 67)], 2500.0, 1500.0, 0.2, 0.0),
        ("voice4", "x.x.x.x.x.x.x.X.", [8000.0], 5000.0, 1500.0, 0.0, 0.0),
    ]
    script: list[Message] = []
    for voice, _, _, _, _, reverb, delay in tracks:
        script += [(f"/mod/{voice}/send/reverb", [reverb]), (f"/mod/{voice}/send/delay", [delay])]
    for voice, pattern, notes, filter_freq, boost, _, _ in tracks:
        for count, (_, velocity) in enumerate(_hits(pattern)):
            script += [
                (f"/mod/{voice}/freq", [notes[count % len(notes)]]),
                (f"/mod/{voice}/amp", [0.3 * velocity]),
                (f"/mod/{voice}/filter/freq", [filter_freq + velocity * boost]),
                (f"/gate/{voice}", [1.0]),
                (f"/gate/{voice}", [0.0]),
            ]
    return script


def _acid_setup() -> list[Message]:
    """The acid voice as examples/demo_acid_bass.py sets it up: voice2's envelope and sends, the
    acid insert (its accent parameters too), reverb and delay; ints where it wrote ints."""
    return [
        ("/mod/voice2/amp", [0.5]),
        ("/mod/voice2/filter/freq", [800]),
        ("/mod/voice2/filter/q", [1.0]),
        ("/mod/voice2/adsr/attack", [0.001]),
        ("/mod/voice2/adsr/decay", [0.05]),
        ("/mod/voice2/adsr/sustain", [0.3]),
        ("/mod/voice2/adsr/release", [0.1]),
        ("/mod/voice2/send/reverb", [0.1]),
        ("/mod/voice2/send/delay", [0.15]),
        ("/mod/acid1/cutoff", [300]),
        ("/mod/acid1/res", [0.65]),
        ("/mod/acid1/env_amount", [2500]),
        ("/mod/acid1/decay", [0.25]),
        ("/mod/acid1/cutoff_offset", [600]),
        ("/mod/acid1/res_accent_boost", [0.25]),
        ("/mod/acid1/accent_decay", [0.08]),
        ("/mod/acid1/drive", [0.3]),
        ("/mod/acid1/mix", [1.0]),
        ("/mod/acid1/vol_comp", [0.5]),
        ("/mod/reverb1/mix", [0.25]),
        ("/mod/reverb1/room", [0.7]),
        ("/mod/reverb1/damp", [0.3]),
        ("/mod/delay1/time", [0.375]),
        ("/mod/delay1/feedback", [0.4]),
        ("/mod/delay1/mix", [0.3]),
    ]


def _acid_notes(notes: list[int | None], accents: list[bool]) -> list[Message]:
    """Each note played by hand: /mod/acid1/accent 1.0 or 0.0, voice2's freq in Hz, its gate 1, 0."""
    script: list[Message] = []
    for note, accent in zip(notes, accents, strict=True):
        if note is not None:
            script += [
                ("/mod/acid1/accent", [1.0 if accent else 0.0]),
                ("/mod/voice2/freq", [_hz(note)]),
                ("/gate/voice2", [1]),
                ("/gate/voice2", [0]),
            ]
    return script


def demo_acid_bass() -> list[Message]:
    """examples/demo_acid_bass.py: the set-up above, then its riffs played note by note with
    accents, the cutoff opened in int steps between them, decay, resonance, envelope and drive
    changed between sections, and a closing run at 110 Hz with the cutoff falling."""
    riff = [36, None, 36, 36, 48, None, 36, None, 36, None, 43, None, 48, 48, None, 36]
    walk = [36, 36, 39, 41, 43, 43, 41, 39, 36, 36, 39, 41, 43, 48, 46, 43]
    script = _acid_setup() + _acid_notes(riff, [i in (0, 4, 10, 13) for i in range(16)])
    for step in range(2):
        script += [
            ("/mod/acid1/cutoff", [300 + step * 200]),
            *_acid_notes(walk, [i % 3 == 0 for i in range(16)]),
        ]
    script += [
        ("/mod/acid1/decay", [0.12]),
        ("/mod/acid1/res", [0.8]),
        ("/mod/acid1/decay", [0.35]),
        ("/mod/acid1/env_amount", [3500]),
        ("/mod/acid1/drive", [0.5]),
        *[("/mod/acid1/res", [0.65 + i * 0.04]) for i in range(8)],
        ("/mod/acid1/res", [0.5]),
        ("/mod/acid1/cutoff", [200]),
        ("/mod/acid1/drive", [0.2]),
    ]
    for step in range(4):
        script += [
            ("/mod/acid1/cutoff", [500 - step * 100]),
            ("/mod/voice2/freq", [110]),
            ("/gate/voice2", [1]),
            ("/gate/voice2", [0]),
        ]
    return script


def test_acid() -> list[Message]:
    """examples/test_acid.py: voice2 at 110 (an int) with a short envelope, the acid insert,
    plain gates, gates with the accent switched, a cutoff sweep and a resonance sweep each
    with a gate per value, then a little 303 line with accents and Hz notes as ints."""
    script: list[Message] = [
        ("/mod/voice2/freq", [110]),
        ("/mod/voice2/amp", [0.5]),
        ("/mod/voice2/filter/freq", [1000]),
        ("/mod/voice2/adsr/attack", [0.001]),
        ("/mod/voice2/adsr/decay", [0.1]),
        ("/mod/voice2/adsr/sustain", [0.3]),
        ("/mod/voice2/adsr/release", [0.1]),
        ("/mod/acid1/cutoff", [300]),
        ("/mod/acid1/res", [0.7]),
        ("/mod/acid1/env_amount", [2000]),
        ("/mod/acid1/decay", [0.3]),
        ("/mod/acid1/drive", [0.3]),
        ("/mod/acid1/mix", [1.0]),
    ]
    script += [("/gate/voice2", [1]), ("/gate/voice2", [0])] * 2
    for accent in (1.0, 0.0):
        script += [("/mod/acid1/accent", [accent]), ("/gate/voice2", [1]), ("/gate/voice2", [0])]
    for param, values in (("cutoff", (200, 400, 800, 1600, 800)), ("res", (0.3, 0.7, 0.95, 0.5))):
        for value in values:
            script += [(f"/mod/acid1/{param}", [value]), ("/gate/voice2", [1]), ("/gate/voice2", [0])]
    for freq, accent in ((110, True), (138, False), (165, True)):
        script += [
            ("/mod/acid1/accent", [1.0 if accent else 0.0]),
            ("/mod/voice2/freq", [freq]),
            ("/gate/voice2", [1]),
            ("/gate/voice2", [0]),
        ]
    return script


def _voice_sound(
    voice: str,
    osc_type: int,
    freq: float,
    amp: float,
    cutoff: float,
    q: float,
    adsr: tuple[float, float, float, float],
) -> list[Message]:
    """One voice's sound as compositions/digital_dreams.py sets each of its eight."""
    attack, decay, sustain, release = adsr
    return [
        (f"/mod/{voice}/osc/type", [osc_type]),
        (f"/mod/{voice}/freq", [freq]),
        (f"/mod/{voice}/amp", [amp]),
        (f"/mod/{voice}/filter/freq", [cutoff]),
        (f"/mod/{voice}/filter/q", [q]),
        (f"/mod/{voice}/adsr/attack", [attack]),
        (f"/mod/{voice}/adsr/decay", [decay]),
        (f"/mod/{voice}/adsr/sustain", [sustain]),
        (f"/mod/{voice}/adsr/release", [release]),
    ]


def digital_dreams() -> list[Message]:
    """compositions/digital_dreams.py: stop, clear, bpm 170 (an int), swing 0.05; all eight
    voices' sounds (every waveform 0–5, voice4 at 12000 Hz and its filter at 13000, both past
    the range), acid, reverb, delay and distortion; then tracks added with positional base and
    filter frequencies (and a Hz note list as one string), patterns updated, tracks removed, the
    LFOs moved, and at the end the transport stopped and two voices gated by hand.

    It updates and removes `bass` and `counter` after it removed them already: the original
    ignored that in silence (see EXPECTED_ABSENT)."""
    script: list[Message] = [
        ("/seq/stop", []),
        ("/seq/clear", []),
        ("/seq/bpm", [170]),
        ("/seq/swing", [0.05]),
    ]
    for voice, osc_type, freq, amp, cutoff, q, adsr in (
        ("voice1", 0, 48, 0.28, 180, 3.0, (0.001, 0.08, 0.1, 0.12)),
        ("voice3", 3, 250, 0.22, 6000, 3.0, (0.001, 0.02, 0.1, 0.01)),
        ("voice4", 4, 12000, 0.06, 13000, 4.0, (0.001, 0.001, 0.1, 0.002)),
        ("voice2", 1, 43.65, 0.26, 300, 4.0, (0.02, 0.2, 0.6, 0.15)),
        ("voice5", 2, 523.25, 0.18, 2800, 5.0, (0.03, 0.12, 0.4, 0.3)),
        ("voice6", 1, 329.63, 0.15, 2000, 7.0, (0.01, 0.08, 0.3, 0.2)),
        ("voice7", 0, 261.63, 0.1, 1200, 2.0, (0.5, 0.3, 0.7, 1.0)),
        ("voice8", 5, 110, 0.08, 500, 8.0, (0.001, 0.03, 0.2, 0.05)),
    ):
        script += _voice_sound(voice, osc_type, freq, amp, cutoff, q, adsr)
    script += [
        ("/mod/voice3/send/reverb", [0.15]),
        ("/mod/voice2/slide_time", [0.06]),
        ("/mod/voice5/send/reverb", [0.5]),
        ("/mod/voice5/send/delay", [0.3]),
        ("/mod/voice5/slide_time", [0.08]),
        ("/mod/voice6/send/delay", [0.4]),
        ("/mod/voice7/send/reverb", [0.7]),
        ("/mod/acid1/cutoff", [700]),
        ("/mod/acid1/res", [0.65]),
        ("/mod/acid1/env_amount", [1800]),
        ("/mod/acid1/decay", [0.18]),
        ("/mod/acid1/drive", [0.15]),
        ("/mod/reverb1/room", [0.8]),
        ("/mod/reverb1/damp", [0.4]),
        ("/mod/reverb1/mix", [0.3]),
        ("/mod/delay1/time", [0.176]),
        ("/mod/delay1/feedback", [0.45]),
        ("/mod/delay1/mix", [0.2]),
        ("/mod/delay1/highcut", [3500]),
        ("/mod/dist1/drive", [0.03]),
        ("/mod/dist1/mix", [0.05]),
        ("/mod/dist1/tone", [0.4]),
    ]
    hz_line = "43.65,43.65,49,43.65,55,55,43.65,49,36.7,36.7,43.65,49,58.3,58.3,43.65,36.7"
    script += [
        ("/seq/add", ["pad", "voice7", "X...............", 261.63, 1200]),
        ("/seq/start", []),
        ("/seq/add", ["glitch", "voice8", "..x...x...x.....", 110, 500]),
        ("/seq/add", ["kick", "voice1", "x.......x.......", 48, 180]),
        ("/seq/add", ["metal", "voice4", "..x.x.x...x.x...", 12000, 13000]),
        ("/seq/update/pattern", ["kick", "X...x...X......."]),
        ("/seq/add", ["snare", "voice3", "....X.....X.....", 250, 6000]),
        ("/seq/update/pattern", ["metal", "x.xxx.xxx.xxx.x."]),
        ("/seq/add", ["bass", "voice2", "x.x...x.x.x.....", 43.65, 300, hz_line]),
        ("/seq/add", ["lead", "voice5", "..x.....x.......", 523.25, 2800, "523.25,659.25,698.46,493.88"]),
        ("/mod/lfo1/rate", [0.3]),
        ("/mod/lfo1/depth", [0.5]),
        ("/seq/add", ["counter", "voice6", "x...x...x...x...", 329.63, 2000, "329.63,392,440,293.66"]),
        ("/seq/remove", ["snare"]),
        ("/seq/update/pattern", ["kick", "x..............."]),
        ("/seq/remove", ["metal"]),
        ("/seq/update/pattern", ["lead", "x.x.x.x.x.x.x.x."]),
        ("/mod/voice5/filter/freq", [1500]),
        ("/mod/reverb1/mix", [0.5]),
        *[("/mod/acid1/cutoff", [400 + i * 100]) for i in range(8)],
        ("/seq/remove", ["bass"]),
        ("/seq/remove", ["counter"]),
        ("/seq/update/pattern", ["pad", "X.......X......."]),
        ("/seq/update/pattern", ["glitch", "x.x.x.x.x.x.x.x."]),
        ("/mod/delay1/feedback", [0.7]),
        ("/mod/delay1/mix", [0.4]),
        ("/seq/add", ["kick", "voice1", "x...x...x...x...", 48, 180]),
        ("/mod/voice5/filter/freq", [2800]),
        ("/seq/update/pattern", ["kick", "X..xx...X.x....."]),
        ("/seq/add", ["snare", "voice3", "....X..x..X.x...", 250, 6000]),
        ("/seq/add", ["metal", "voice4", "xxxxxxxxxxxxxxxx", 12000, 13000]),
        ("/seq/update/pattern", ["bass", "X.X.X.X.X.X.X.X."]),
        ("/mod/acid1/cutoff", [1200]),
        ("/mod/acid1/res", [0.8]),
        ("/seq/update/pattern", ["lead", "x.x.x.x.x.x.x.x."]),
        ("/seq/update/pattern", ["counter", "x...x...x...x..."]),
        ("/mod/lfo1/rate", [1.0]),
        ("/mod/lfo1/depth", [0.7]),
        ("/mod/lfo2/rate", [8.0]),
        ("/mod/lfo2/depth", [0.4]),
        ("/mod/dist1/drive", [0.1]),
        ("/mod/dist1/mix", [0.15]),
        ("/seq/remove", ["counter"]),
        ("/seq/remove", ["metal"]),
        ("/seq/remove", ["snare"]),
        ("/seq/remove", ["bass"]),
        ("/seq/stop", []),
        ("/gate/voice5", [1]),
        ("/gate/voice7", [1]),
        ("/gate/voice5", [0]),
        ("/gate/voice7", [0]),
    ]
    return script


def _helper_voice(
    number: int,
    freq: float | None = None,
    amp: float | None = None,
    cutoff: float | None = None,
    q: float | None = None,
    adsr: tuple[float, float, float, float] | None = None,
    sends: tuple[float, float] | None = None,
) -> list[Message]:
    """The ChronusOSC helper's voice calls (set_voice_freq, _amp, _filter, _adsr, _sends) as the
    addresses they name."""
    voice = f"/mod/voice{number}"
    script: list[Message] = []
    if freq is not None:
        script.append((f"{voice}/freq", [freq]))
    if amp is not None:
        script.append((f"{voice}/amp", [amp]))
    if cutoff is not None:
        script += [(f"{voice}/filter/freq", [cutoff]), (f"{voice}/filter/q", [q])]
    if adsr is not None:
        script += [
            (f"{voice}/adsr/{stage}", [value])
            for stage, value in zip(("attack", "decay", "sustain", "release"), adsr, strict=True)
        ]
    if sends is not None:
        script += [(f"{voice}/send/reverb", [sends[0]]), (f"{voice}/send/delay", [sends[1]])]
    return script


def _helper_effects(module: str, **values: float) -> list[Message]:
    return [(f"/mod/{module}/{name}", [value]) for name, value in values.items()]


def liquid_dreams() -> list[Message]:
    """compositions/chronus_songs/chronus_song_liquid_dreams.py (through ChronusOSC): stop and
    clear, reverb, delay and both LFOs, four voices' envelopes, filters, sends and levels (one
    sustain of 0.0), bpm 65; then bars of clear-and-add, a track of 8 steps beside one of 16,
    crystal tracks removed and added anew each bar, a drone gated by hand, a 24-step track, and
    a fade with removals, ending in hand-played drops.

    Its first bar of crystal removes a track it has not added yet: the original ignored that
    (see EXPECTED_ABSENT)."""
    script = [
        ("/seq/stop", []),
        ("/seq/clear", []),
        *_helper_effects("reverb1", mix=0.8, room=0.95, damp=0.2),
        *_helper_effects("delay1", mix=0.6, time=0.6, feedback=0.65),
        *_helper_effects("lfo1", rate=0.1, depth=0.4),
        *_helper_effects("lfo2", rate=0.05, depth=0.6),
        *_helper_voice(1, amp=0.4, cutoff=3000, q=8.0, adsr=(0.001, 0.03, 0.0, 0.05), sends=(0.6, 0.3)),
        *_helper_voice(2, amp=0.6, cutoff=150, q=0.7, adsr=(0.8, 0.5, 0.85, 1.5), sends=(0.4, 0.1)),
        *_helper_voice(3, amp=0.3, cutoff=2500, q=3.0, adsr=(0.005, 0.2, 0.4, 1.0), sends=(0.9, 0.5)),
        *_helper_voice(4, amp=0.5, cutoff=80, q=1.0, adsr=(2.0, 0.0, 1.0, 3.0), sends=(0.5, 0.2)),
        ("/seq/bpm", [65]),
    ]
    for pattern in ("X...............", ".....x.........."):
        script += [
            ("/seq/clear", []),
            ("/seq/add", ["drops", "voice1", pattern, 2731.5, 3000]),
            ("/seq/start", []),
            *_helper_voice(1, cutoff=3120.7, q=7.3),
        ]
    script += [
        ("/seq/clear", []),
        ("/seq/add", ["drops", "voice1", "X.....x.", 3000, 3000]),
        ("/seq/add", ["waves", "voice2", "X.......X.......", 60, 150]),
        ("/seq/start", []),
        *_helper_voice(2, freq=65.9, amp=0.35),
        *_helper_voice(1, freq=3100.2),
    ]
    for pattern, note in (("X...X...", 1760), (".X...X..", 1975)):
        script += [
            ("/seq/remove", ["crystal"]),
            ("/seq/add", ["crystal", "voice3", pattern, note, 2500]),
            *_helper_voice(1, cutoff=2000, q=7.0),
            *_helper_voice(3, cutoff=2000, q=4.0),
        ]
    script += [
        ("/gate/voice4", [1]),
        *_helper_voice(4, freq=55),
        *_helper_voice(3, freq=2637),
        ("/seq/update/pattern", ["drops", "X...x...x...x..."]),
        ("/seq/clear", []),
        ("/seq/add", ["drops", "voice1", "X..x..x.x...x...", 3200, 3500]),
        ("/seq/add", ["waves", "voice2", "X.......X.......X.......", 65, 150]),
        ("/seq/add", ["crystal", "voice3", "X...X...X.X.", 2200, 2800]),
        ("/seq/start", []),
        ("/gate/voice4", [1]),
        *_helper_voice(1, freq=3516.4, amp=0.41, cutoff=3000, q=8.0),
        ("/seq/remove", ["crystal"]),
        ("/gate/voice4", [0]),
        ("/seq/remove", ["waves"]),
        *_helper_voice(1, amp=0.05),
        *_helper_effects("reverb1", mix=1.0, room=0.98, damp=0.1),
        ("/seq/clear", []),
        *_helper_voice(1, freq=3377.8),
        ("/gate/voice1", [1]),
        ("/gate/voice1", [0]),
    ]
    return script


def phoenix_scars() -> list[Message]:
    """compositions/chronus_songs/chronus_song_phoenix_scars.py (through ChronusOSC): four voices'
    freq, amp, filter, envelope and sends, the acid insert (cutoff, res, env_amount with decay,
    drive with mix), reverb, delay, distortion; bpm 95, tracks added with positional Hz, patterns
    updated through verse and chorus, the acid cutoff swept with floats, tracks removed and added
    back, a fade, and a last note gated by hand."""
    script = [
        ("/seq/stop", []),
        ("/seq/clear", []),
        *_helper_voice(1, freq=55, amp=0.3, cutoff=120, q=3.0, adsr=(0.001, 0.2, 0.1, 0.3)),
        *_helper_voice(2, freq=82.4, amp=0.25, cutoff=300, q=2.5, adsr=(0.01, 0.15, 0.8, 0.4)),
        *_helper_effects("acid1", cutoff=800, res=0.7, env_amount=1500, decay=0.4, drive=0.2, mix=0.8),
        *_helper_voice(
            3, freq=329.6, amp=0.2, cutoff=2000, q=1.5, adsr=(0.05, 0.3, 0.6, 1.2), sends=(0.6, 0.4)
        ),
        *_helper_voice(
            4, freq=164.8, amp=0.15, cutoff=1200, q=1.0, adsr=(0.5, 0.1, 0.9, 2.0), sends=(0.8, 0.2)
        ),
        *_helper_effects("reverb1", mix=0.45, room=0.8, damp=0.3),
        *_helper_effects("delay1", mix=0.25, time=0.315, feedback=0.35),
        *_helper_effects("dist1", drive=0.25, mix=0.4, tone=0.3),
        ("/seq/bpm", [95]),
        ("/seq/add", ["pad", "voice4", "X...............", 164.8, 1200]),
        ("/seq/start", []),
        ("/seq/add", ["lead", "voice3", "....X.......X...", 329.6, 2000]),
        ("/mod/acid1/cutoff", [900]),
        ("/seq/add", ["kick", "voice1", "X...x.X.....x...", 55, 120]),
        ("/seq/add", ["bass", "voice2", "X.x.....X.x.....", 82.4, 300]),
        ("/seq/update/pattern", ["lead", "........X......."]),
        *_helper_voice(2, freq=110.0),
        ("/seq/update/pattern", ["kick", "X...X...X...X..."]),
        ("/seq/update/pattern", ["bass", "X.x.X.x.X.x.X.x."]),
        ("/mod/acid1/res", [0.94]),
        *_helper_voice(3, freq=329.6 * 1.35),
        ("/seq/update/pattern", ["bass", "XXXXXXXXXXXXXXXX"]),
        ("/seq/update/pattern", ["pad", "X.......X......."]),
        ("/mod/acid1/cutoff", [2194.7]),
        *_helper_voice(3, cutoff=2694.7, q=2.0),
        ("/seq/remove", ["kick"]),
        ("/seq/remove", ["bass"]),
        ("/seq/update/pattern", ["lead", "X.....X.....X..."]),
        ("/seq/add", ["kick", "voice1", "x...x...x...x...", 55, 120]),
        ("/seq/add", ["bass", "voice2", "x...x...x...x...", 82.4, 300]),
        *_helper_voice(1, amp=0.3 * 0.5),
        ("/seq/remove", ["kick"]),
        ("/seq/remove", ["bass"]),
        ("/seq/remove", ["lead"]),
        ("/seq/stop", []),
        ("/seq/clear", []),
        *_helper_voice(3, freq=329.6),
        ("/gate/voice3", [1]),
        ("/gate/voice3", [0]),
    ]
    return script


def progressive_darkness() -> list[Message]:
    """compositions/chronus_songs/chronus_song_progressive_darkness.py: four voices, the acid
    insert, both LFOs, reverb and delay (lowcut and highcut as ints); bpm 128, kick and acid
    added, patterns updated, a call and a response track, distortion built up in float steps
    from 0, everything at its peak, then removed again and the transport stopped."""
    script = [
        *_helper_voice(1, freq=50, adsr=(0.001, 0.12, 0.1, 0.2), cutoff=80, q=1.5, amp=0.7),
        *_helper_voice(2, freq=110, adsr=(0.01, 0.3, 0.6, 0.1), amp=0.5),
        *_helper_effects("acid1", cutoff=300, res=0.75, env_amount=2000, decay=0.35, drive=0.4, mix=1.0),
        *_helper_voice(
            3, freq=440, adsr=(0.05, 0.2, 0.4, 0.8), cutoff=1500, q=3.0, amp=0.3, sends=(0.3, 0.2)
        ),
        *_helper_voice(
            4, freq=660, adsr=(0.08, 0.25, 0.3, 1.0), cutoff=2000, q=4.0, amp=0.25, sends=(0.4, 0.3)
        ),
        *_helper_effects("lfo1", rate=0.125, depth=0.6),
        *_helper_effects("lfo2", rate=0.25, depth=0.4),
        *_helper_effects("reverb1", room=0.7, damp=0.6, mix=0.2),
        *_helper_effects("delay1", time=0.375, feedback=0.5, mix=0.15, lowcut=200, highcut=4000),
        ("/seq/bpm", [128]),
        ("/seq/add", ["kick", "voice1", "X...x...X...x...", 50, 80]),
        ("/seq/start", []),
        ("/seq/add", ["acid", "voice2", "..x...x...x.x...", 110, 300]),
        ("/mod/acid1/cutoff", [400]),
        ("/seq/update/pattern", ["acid", "x.x...x.x.x....."]),
        ("/mod/acid1/res", [0.83]),
        ("/mod/acid1/cutoff", [1234.5]),
        ("/seq/add", ["call", "voice3", "x.......x.......", 440, 1500]),
        ("/seq/add", ["response", "voice4", "....x.......x...", 660, 2000]),
        ("/mod/voice3/freq", [490]),
        ("/mod/voice4/freq", [735.0]),
        ("/seq/update/pattern", ["kick", "X.x.X.x.X.x.X.x."]),
        ("/mod/acid1/drive", [0.6]),
        ("/seq/update/pattern", ["call", "x.x.....x.x....."]),
        ("/seq/update/pattern", ["response", "....x.x.....x.x."]),
    ]
    for bar in range(2):
        script += [
            ("/mod/acid1/cutoff", [800 + bar * 150]),
            ("/mod/dist1/drive", [bar * 0.02]),
            ("/mod/dist1/mix", [bar * 0.02 * 0.8]),
            ("/mod/reverb1/mix", [0.2 + bar * 0.02]),
            ("/mod/delay1/feedback", [0.5 + bar * 0.01]),
        ]
    script += [
        ("/seq/update/pattern", ["kick", "XXXXXXXXXXXX.XX."]),
        ("/seq/update/pattern", ["acid", "xxxxxxxxxxxxxxx."]),
        ("/seq/update/pattern", ["response", ".x.X.x.X.x.X.x.X"]),
        ("/mod/acid1/cutoff", [3000]),
        ("/mod/lfo1/rate", [1.0]),
        ("/mod/lfo2/rate", [0.125]),
        ("/mod/voice3/filter/freq", [2950.3]),
        ("/seq/remove", ["call"]),
        ("/seq/remove", ["response"]),
        ("/seq/update/pattern", ["kick", "X...x...X...x..."]),
        ("/mod/dist1/drive", [0]),
        ("/seq/remove", ["acid"]),
        ("/seq/stop", []),
    ]
    return script


def original_engine_routes() -> list[Message]:
    """The routes the original engine itself has beyond what the scripts above send: voice1's
    gate by its oldest name (`/gate/1`), the acid insert's gate (`/gate/acid1`, "optional,
    auto-triggers with voice2") and the recorder."""
    return [
        ("/gate/1", [1]),
        ("/gate/1", [0]),
        ("/gate/acid1", [1]),
        ("/gate/acid1", [0]),
        ("/engine/record/start", []),
        ("/engine/record/status", []),
        ("/engine/record/stop", []),
        ("/engine/record/start", ["take.wav"]),
        ("/engine/record/stop", []),
    ]


SCRIPTS: dict[str, Callable[[], list[Message]]] = {
    "chronusctl": chronusctl,
    "musical_demo": musical_demo,
    "test_polyphony": test_polyphony,
    "test_sequencer_pyo": test_sequencer_pyo,
    "sequencer_pyo_integrated": sequencer_pyo_integrated,
    "poly_sequencer": poly_sequencer,
    "demo_acid_bass": demo_acid_bass,
    "test_acid": test_acid,
    "digital_dreams": digital_dreams,
    "liquid_dreams": liquid_dreams,
    "phoenix_scars": phoenix_scars,
    "progressive_darkness": progressive_darkness,
    "original_engine_routes": original_engine_routes,
}
# These builders are named after the scripts; pytest must not collect the three named test_*.
test_polyphony.__test__ = test_sequencer_pyo.__test__ = test_acid.__test__ = False  # type: ignore[attr-defined]

# Sends to a track that is not there. The original ignored them in silence; Chronus answers
# `/ok <address> <id> absent` and changes nothing.
EXPECTED_ABSENT = {
    "digital_dreams": [
        ("/seq/update/pattern", "bass"),
        ("/seq/update/pattern", "counter"),
        ("/seq/remove", "counter"),
        ("/seq/remove", "bass"),
    ],
    "liquid_dreams": [("/seq/remove", "crystal")],
}


@pytest.fixture(scope="module")
def chronus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OscClient]:
    """One real `chronus --no-ui --audio null` for the module, as the original's scripts met one
    long-running engine, and a python-osc client of it."""
    root = tmp_path_factory.mktemp("legacy")
    with ready(Headless(root / "patterns", root / "state", free_udp_port())) as process:
        client = OscClient(process.port)
        try:
            yield client
        finally:
            client.close()


def replay(client: OscClient, script: list[Message]) -> tuple[list[Any], list[tuple[str, Any]]]:
    """Send each message and wait for its answer: the refused ones as (address, args, why), and
    the edits of an absent track as (address, id)."""
    refused, absent = [], []
    for address, args in script:
        reply, values = client.ask(address, *args)
        assert reply in ("/ok", "/error", address), (address, args, reply, values)
        if reply == "/error":
            refused.append((address, args, values[1:]))
        elif values[-1:] == ["absent"]:
            absent.append((address, args[0]))
    return refused, absent


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_original_script_replays_without_an_error(chronus: OscClient, name: str) -> None:
    refused, absent = replay(chronus, SCRIPTS[name]())
    assert refused == []
    assert absent == EXPECTED_ABSENT.get(name, [])


def test_the_scripts_send_every_old_name() -> None:
    """The replay covers each old address, and every address it sends is one Chronus knows."""
    sent = {address for build in SCRIPTS.values() for address, _ in build()}
    assert {f"/mod/{old}" for old in LEGACY_PARAMS} <= sent
    assert {f"/gate/{old}" for old in LEGACY_GATES} <= sent
    assert sent <= set(address_map())


# -- the old names, in process ----------------------------------------------------------


def test_old_names_set_voice1_as_its_own_addresses_do(osc: Osc, session: Session) -> None:
    _, client = osc
    for old, (module, param) in LEGACY_PARAMS.items():
        spec = PARAM_INDEX[module][param]
        value = round(spec.low + (spec.high - spec.low) / 3, 3)
        assert client.ok(f"/mod/{old}", value) == [pytest.approx(value)]
        assert session.snapshot()["modules"][module][param] == pytest.approx(value)
    assert client.ok("/mod/sine1/freq", 9000) == [5000.0, "clamped"]
    assert client.ok("/mod/filter1/q", "4.5") == [4.5]


def test_an_old_name_edit_is_undone_like_any_other(osc: Osc, session: Session) -> None:
    _, client = osc
    before = session.snapshot()["modules"]["voice1"]
    client.ok("/mod/adsr1/release", 2.5)
    client.ok("/mod/filter1/freq", 300)
    history = client.query("/history", 2)
    assert [entry["author"] for entry in history] == [f"osc 127.0.0.1:{client.port}"] * 2
    assert client.ok("/undo", 2)[0] == 2
    assert session.snapshot()["modules"]["voice1"] == before


def test_old_gate_names_open_voice1(osc: Osc, engine: Any) -> None:
    _, client = osc
    assert client.ok("/gate/adsr1", 1.0) == [1]
    assert client.ok("/gate/1", 0) == [0]
    assert [(c["voice"], c["on"]) for c in engine.ops("gate")] == [("voice1", True), ("voice1", False)]


def test_an_unknown_old_name_says_which_ones_exist(osc: Osc, session: Session) -> None:
    _, client = osc
    before = session.snapshot()
    assert client.error("/mod/adsr1/hold", 1) == (
        "adsr1 (the original's old name) has no parameter 'hold' "
        "(known: attack, decay, sustain, release, freq)"
    )
    assert "adsr1, 1" in client.error("/gate/2", 1)
    assert session.snapshot() == before


def test_schema_and_readme_list_the_old_names() -> None:
    routes = {route["address"]: route for route in json.loads(schema_json())["routes"]}
    docs = routes["/mod/<old name>"]["doc"] + routes["/gate/<old name>"]["doc"]
    for old in [f"/mod/{old}" for old in LEGACY_PARAMS] + [f"/gate/{old}" for old in LEGACY_GATES]:
        assert f"`{old}`" in docs
    assert "original's old names" in docs
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`/mod/sine1/freq` → `/mod/voice1/freq`" in readme


# -- /engine/list ------------------------------------------------------------------------


def test_engine_list_names_every_module_and_parameter(osc: Osc) -> None:
    _, client = osc
    reply = client.ask("/engine/list", 1)  # the original's polyphony test sent an int; ignored
    assert reply[0] == "/engine/list" and len(reply[1]) == 1
    assert len(reply[1][0].encode()) < REPLY_BYTES
    listing = json.loads(reply[1][0])
    assert listing["voices"]["names"] == list(VOICES)
    assert listing["voices"]["params"]["freq"] == "20–5000 Hz"
    assert listing["voices"]["params"]["adsr/sustain"] == "0–1"
    assert set(listing["voices"]["params"]) == set(PARAM_INDEX["voice1"])
    assert set(listing["modules"]) == set(PARAM_INDEX) - set(VOICES)
    for module, params in listing["modules"].items():
        assert set(params) == set(PARAM_INDEX[module])
    assert listing["modules"]["acid1"]["res"] == "0–0.98"
    known = address_map()
    assert listing["old_names"]["/mod/sine1/freq"] == "/mod/voice1/freq"
    assert listing["old_names"]["/gate/1"] == "/gate/voice1"
    for old, new in listing["old_names"].items():
        assert old in known and new in known
        assert known[old][1] == known[new][1]  # the old name edits what the new one does


def test_engine_list_is_a_query_route() -> None:
    route = next(route for route in ROUTES if route.address == "/engine/list")
    assert route.query and route.parse([1, "x", 2.5]) == {"ignored": [1, "x", 2.5]}


def test_schema_takes_chronusctls_formats(osc: Osc) -> None:
    _, client = osc
    whole = json.loads(schema_json())
    for fmt in ("stdout", "json", "file"):
        assert client.query("/engine/schema", fmt) == whole
