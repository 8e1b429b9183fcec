"""Damage a JSON-like document in one place, for "any bad input gives a clear error" tests.

With Hypothesis' `st.data()`, `damage(document, data)` replaces or deletes one value anywhere
in the document; `set_in(document, path, value)` changes one value by path (`DELETE` removes it).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

DELETE = object()

# Any JSON value, small: what a damaged or hostile file can hold in place of a field.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (st.lists(children, max_size=3)
                      | st.dictionaries(st.text(max_size=6), children, max_size=3)),
    max_leaves=6)


def set_in(document: Any, path: list, value: object) -> Any:
    """Set (or with DELETE remove) the value at `path`, a list of keys and indexes."""
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


def paths_of(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path in a JSON-like document, the document itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths_of(child, (*prefix, i))
    return found


def damage(document: Any, data: st.DataObject) -> tuple:
    """Replace or delete one value anywhere below the top of `document`; returns its path."""
    path = data.draw(st.sampled_from(paths_of(document)[1:]))
    set_in(document, list(path), data.draw(st.just(DELETE) | JSON_VALUES))
    return path
