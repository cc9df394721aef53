"""Deliveries that arrive while another is being stored are stored together, in one transaction
(ticketwarden.store._GroupCommit): each is answered with its own outcome, none is stored twice
or lost, and one delivery's error stays its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ticketwarden.store import _GroupCommit
from webhooks.app import StoreUnavailable


class Recorder:
    """A store that keeps what it was given, group by group; the first group takes a while, so
    the deliveries that arrive meanwhile queue behind it."""

    def __init__(self, first_takes: float = 0.2, refuse: str = "", unavailable: bool = False):
        self.groups: list[list[str]] = []
        self.stored: list[str] = []
        self._first_takes, self._refuse, self._unavailable = first_takes, refuse, unavailable
        self._lock = threading.Lock()

    def __call__(self, every: Sequence[Mapping[str, Any]]) -> list[tuple[bool, int]]:
        keys = [str(values["key"]) for values in every]
        with self._lock:
            self.groups.append(keys)
            first = len(self.groups) == 1
        if first:
            time.sleep(self._first_takes)
        if self._unavailable and not first:
            raise StoreUnavailable("database is locked")
        if self._refuse in keys:
            raise ValueError(f"{self._refuse} refused")  # the transaction is undone: nothing stored
        with self._lock:
            self.stored.extend(keys)
        return [(True, int(key[1:])) for key in keys]


def submit_together(group: _GroupCommit, keys: list[str]) -> dict[str, Any]:
    """Submit the first key, then, while it is being stored, the others, each from a thread."""
    answers: dict[str, Any] = {}

    def one(key: str) -> None:
        try:
            answers[key] = group.submit({"key": key})
        except Exception as exc:  # noqa: BLE001 - the answer under test
            answers[key] = exc

    first = threading.Thread(target=one, args=(keys[0],))
    first.start()
    time.sleep(0.05)
    others = [threading.Thread(target=one, args=(key,)) for key in keys[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(timeout=10)
    return answers


def test_deliveries_arriving_during_a_commit_are_stored_together_each_once():
    store = Recorder()
    keys = [f"k{n}" for n in range(6)]
    answers = submit_together(_GroupCommit(store), keys)
    assert answers == {key: (True, int(key[1:])) for key in keys}
    assert store.groups[0] == ["k0"] and sorted(store.groups[1]) == keys[1:]  # five deliveries, one commit
    assert sorted(store.stored) == keys


def test_a_group_that_fails_is_stored_again_one_by_one():
    store = Recorder(refuse="k3")
    keys = [f"k{n}" for n in range(6)]
    answers = submit_together(_GroupCommit(store), keys)
    assert isinstance(answers["k3"], ValueError)
    assert {key: answer for key, answer in answers.items() if key != "k3"} == {
        key: (True, int(key[1:])) for key in keys if key != "k3"}
    assert sorted(store.stored) == [key for key in keys if key != "k3"]  # each once


def test_a_store_that_cannot_take_a_group_tells_each_sender_to_retry():
    store = Recorder(unavailable=True)
    keys = [f"k{n}" for n in range(4)]
    answers = submit_together(_GroupCommit(store), keys)
    assert answers["k0"] == (True, 0)
    assert all(isinstance(answers[key], StoreUnavailable) for key in keys[1:])
    assert len(store.groups) == 2  # the group as a whole, not again one by one


def test_many_senders_at_once_are_all_answered():
    store = Recorder(first_takes=0.01)
    group = _GroupCommit(store)
    answers: dict[str, Any] = {}

    def sender(number: int) -> None:
        for n in range(50):
            key = f"k{number * 1000 + n}"
            answers[key] = group.submit({"key": key})

    threads = [threading.Thread(target=sender, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 400 and all(answer == (True, int(key[1:])) for key, answer in answers.items())
    assert sorted(store.stored) == sorted(answers)
    assert max(len(keys) for keys in store.groups) > 1


@pytest.mark.parametrize("failure", [ValueError("bad row"), StoreUnavailable("database is locked")])
def test_a_single_delivery_gets_its_own_error(failure):
    def failing(every: Sequence[Mapping[str, Any]]) -> list[tuple[bool, int]]:
        raise failure

    with pytest.raises(type(failure)):
        _GroupCommit(failing).submit({"key": "k1"})
