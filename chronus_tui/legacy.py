"""Slot files written by the original Music Chronus (`"schema_version": "1.0"`).

The original set a voice's freq, amp, filter and sends from the track on every hit
(amp = base_amp × velocity, X = 1.0, x = 0.6), so those track fields map onto the
voice the track plays. Notes are Hz and cycle over the hits; they map onto the
hits of one pass in order. Values outside our ranges are clamped; fields with no
place in the model are listed in `dropped` so nothing is lost silently.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from chronus_tui.model import (
    BPM_SPEC,
    GATE_SPEC,
    MAX_NAME,
    PARAM_INDEX,
    SWING_SPEC,
    VOICES,
    ParamSpec,
    PatternError,
    default_modules,
    excerpt,
    hz_to_pitch,
    parse_steps,
)

# original module field -> our parameter name
_VOICE_FIELDS = {
    "freq": "freq", "amp": "amp", "filter_freq": "filter/freq", "filter_q": "filter/q",
    "reverb_send": "send/reverb", "delay_send": "send/delay", "waveform": "osc/type",
    "slide_time": "slide_time",
}
_ADSR_FIELDS = {"attack": "adsr/attack", "decay": "adsr/decay",
                "sustain": "adsr/sustain", "release": "adsr/release"}
# track field -> voice parameter it set on every hit
TRACK_VOICE_FIELDS = {"base_freq": "freq", "base_amp": "amp", "filter_freq": "filter/freq",
                      "reverb_send": "send/reverb", "delay_send": "send/delay"}
_IGNORED_IDS = {"voice_id", "module_id"}
_DROPPED_TRACK_FIELDS = {"accent_boost", "note_index"}
_DROPPED_SEQ_FIELDS = {"running", "global_step"}


MAX_DROPPED = 50  # dropped-field notes kept per file; they reach the screen and the log
MAX_DROPPED_TEXT = 160  # characters of one note (it quotes the file's keys)


def convert(data: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    """A dict in our format (not yet validated) from an original file's dict."""
    notes: list[str] = []
    converted = _convert(data, notes)
    dropped.extend(excerpt(note, MAX_DROPPED_TEXT) for note in notes[:MAX_DROPPED])
    if len(notes) > MAX_DROPPED:
        dropped.append(f"… and {len(notes) - MAX_DROPPED} more fields")
    return converted


def _convert(data: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    if str(data.get("schema_version")) != "1.0":
        raise PatternError("schema_version", f"{data.get('schema_version')!r} is not a known original format")
    seq = data.get("sequencer", {})
    modules_in = data.get("modules", {})
    if not isinstance(seq, dict) or not isinstance(modules_in, dict):
        raise PatternError("sequencer", "expected objects for sequencer and modules")
    modules = default_modules()
    for module, params in modules_in.items():
        _convert_module(module, params, modules, dropped)
    tracks_in = seq.get("tracks", {})
    if not isinstance(tracks_in, dict):
        raise PatternError("sequencer.tracks", "expected an object of tracks")
    tracks = []
    voice_owner: dict[str, str] = {}
    for key, track in tracks_in.items():
        tracks.append(_convert_track(str(key), track, modules, voice_owner, dropped))
    for name in sorted(_DROPPED_SEQ_FIELDS & seq.keys()):
        dropped.append(f"sequencer.{name} (playback state, not part of a pattern)")
    known = {"chronus_version", "schema_version", "timestamp", "sequencer", "modules"}
    for name in sorted(data.keys() - known):
        dropped.append(f"{name} (unknown field)")
    return {
        "format": "chronus-pattern",
        "schema": 1,
        "name": "imported",
        "saved_at": _saved_at(data.get("timestamp")),
        "sequencer": {
            "bpm": _clamped(seq.get("bpm", BPM_SPEC.default), BPM_SPEC, "sequencer.bpm", dropped),
            "swing": _clamped(seq.get("swing", SWING_SPEC.default), SWING_SPEC, "sequencer.swing", dropped),
            "tracks": tracks,
        },
        "modules": modules,
    }


def _convert_module(module: str, params: object, modules: dict, dropped: list[str]) -> None:
    if module not in PARAM_INDEX or not isinstance(params, dict):
        dropped.append(f"modules.{module} (no such module here)")
        return
    for name, value in params.items():
        path = f"modules.{module}.{name}"
        if name in _IGNORED_IDS:
            continue
        if name == "adsr" and isinstance(value, dict):
            for stage, stage_value in value.items():
                target = _ADSR_FIELDS.get(stage)
                if target is None:
                    dropped.append(f"{path}.{stage} (unknown field)")
                else:
                    _set_param(modules, module, target, stage_value, f"{path}.{stage}", dropped)
            continue
        if name == "accent_disabled":
            dropped.append(f"{path} (the original's accent was switched off; accents work here)")
            continue
        target = _VOICE_FIELDS.get(name, name) if module.startswith("voice") else name
        if target not in PARAM_INDEX[module]:
            dropped.append(f"{path} (unknown field)")
            continue
        _set_param(modules, module, target, value, path, dropped)


def _convert_track(key: str, track: object, modules: dict, voice_owner: dict[str, str],
                   dropped: list[str]) -> dict[str, Any]:
    path = f"sequencer.tracks.{key}"
    if not isinstance(track, dict):
        raise PatternError(path, "expected an object")
    name = str(track.get("name", key))[:MAX_NAME] or key
    voice = track.get("voice_id")
    steps = parse_steps(track.get("pattern", ""), f"{path}.pattern")
    notes = track.get("notes") or []
    if not isinstance(notes, list):
        raise PatternError(f"{path}.notes", "expected a list of frequencies")
    hits = [s for s in steps if s.on]
    if notes:
        for i, step in enumerate(hits):
            freq = notes[i % len(notes)]
            if not _finite(freq) or freq <= 0:
                raise PatternError(f"{path}.notes[{i % len(notes)}]", f"{freq!r} is not a frequency")
            step.note, step.cents = hz_to_pitch(freq)  # 262.15 Hz stays 262.15 Hz
        if len(notes) != len(hits):
            dropped.append(f"{path}.notes ({len(notes)} notes over {len(hits)} hits cycled across bars "
                           "in the original; mapped onto one bar's hits)")
    if isinstance(voice, str) and voice in VOICES:
        owner = voice_owner.setdefault(voice, name)
        for field, param in TRACK_VOICE_FIELDS.items():
            if field not in track:
                continue
            if owner != name:
                dropped.append(f"{path}.{field} ({voice} already takes its settings from track {owner!r})")
                continue
            if field == "base_freq" and notes:
                continue  # notes set the pitch of every hit; base_freq only sounded without them
            _set_param(modules, voice, param, track[field], f"{path}.{field}", dropped)
    gate = track.get("gate_frac", GATE_SPEC.default)
    for field in sorted(_DROPPED_TRACK_FIELDS & track.keys()):
        dropped.append(f"{path}.{field} (no place in this model)")
    return {
        "name": name,
        "voice": voice,
        "steps": [{"on": s.on, "accent": s.accent, "note": s.note, "slide": s.slide, "cents": s.cents}
                  for s in steps],
        "gate": _clamped(gate, GATE_SPEC, f"{path}.gate_frac", dropped),
    }


def _set_param(modules: dict, module: str, param: str, value: object, path: str,
               dropped: list[str]) -> None:
    spec = PARAM_INDEX[module][param]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PatternError(path, f"{value!r} is not a number")
    modules[module][param] = _clamped(value, spec, path, dropped)


def _clamped(value: object, spec: ParamSpec, path: str, dropped: list[str]) -> object:
    """The value kept in range; a moved value is reported, a non-number left for validation."""
    if not _finite(value):
        return value
    inside, moved = spec.clamp(value)
    if moved:
        dropped.append(f"{path} ({value:g} clamped to {inside:g})")
    return inside


def _finite(value: object) -> bool:
    """Whether value is a real, finite number (ints too big for a float are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _saved_at(timestamp: object) -> str | None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None
