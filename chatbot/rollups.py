"""Daily rollups: the counts and sums the History page draws, kept per day as dialogs change.

A dialog contributes to two rollups of its day (in the reporting time zone,
``CHAT_REPORT_TIMEZONE``, Asia/Seoul by default):

- a ``Cell``: the day and every dimension the page filters on (mode, model, status, type,
  feedback, the answer's language). Summing the cells that match a filter gives that filter's
  exact counts and sums; a day holds a few dozen cells however many dialogs it has.
- a ``Slice``: the day, the user, the mode and the model, with the user's counts and the
  conversations they were in (the per-user table).

Counters are whole numbers under names (``dialogs``, ``input_tokens``, ``ttft:57``, ...). The
stores keep them exact by adding ``delta(old, new)`` whenever a dialog is written, rated or
deleted, in the same transaction as the change; ``tally`` counts raw dialogs the same way, for
a recount and for the tests that hold the two in agreement.

Percentiles (time to first token, answer length) come from log-spaced histograms, as in
DDSketch (Masson et al., VLDB 2019): a value ``v`` falls in bucket ``ceil(log_γ v)``, and
a bucket's representative is within ``RELATIVE_ACCURACY`` (2%) of every value in it, so a
p50 or p90 read from the counts is within 2% of the exact one, and merging days or cells is
adding counts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from chatbot.language import hangul_share, is_korean
from chatbot.store.base import Dialog, Status, conversation_of, parse_request_time

DEFAULT_REPORT_TIMEZONE = "Asia/Seoul"

# Counter names. Each counts over the dialogs of a cell or slice.
DIALOGS = "dialogs"
INPUT_TOKENS = "input_tokens"
OUTPUT_TOKENS = "output_tokens"
CACHE_READ_TOKENS = "cache_read_tokens"
CACHE_WRITE_TOKENS = "cache_write_tokens"
COST = "cost_microusd"
CACHE_HITS = "cache_hits"  # dialogs that read part of their input from the prompt cache
METERED = "metered"  # dialogs with a token count (the original's rows have none)
METERED_CHARS = "metered_chars"  # answer characters of the metered dialogs
METERED_OUTPUT = "metered_output_tokens"  # their output tokens
REPLACED = "replaced"  # regenerated or edited away (superseded_by set)
TIMED = "timed"  # dialogs with a time to first token
# Per user (slices): ratings and outcomes, each a number of dialogs.
DOWN = "down"
RATED = "rated"
ERRORS = "errors"  # error or incomplete: the call failed
STOPPED = "stopped"
CUT = "cut"
# Prefixes of the open-ended names: a histogram bucket, a 👎 reason, an error's kind.
TTFT = "ttft:"
ANSWER_CHARS = "chars:"
REASON = "reason:"
ERROR_KIND = "error:"

# Every counter a slice has (a cell's names are open-ended: buckets, reasons, kinds).
SLICE_COUNTERS = (DIALOGS, INPUT_TOKENS, OUTPUT_TOKENS, COST, RATED, DOWN, ERRORS, STOPPED, CUT)

_FAILED = frozenset({Status.ERROR, Status.INCOMPLETE})

RELATIVE_ACCURACY = 0.02
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)


def bucket(value: int) -> int:
    """The histogram bucket of a non-negative whole number: -1 for 0, else ⌈log_γ value⌉."""
    if value <= 0:
        return -1
    # The epsilon keeps exact powers of γ in their own bucket despite rounding in log().
    return math.ceil(math.log(value) / _LOG_GAMMA - 1e-9)


def bucket_value(index: int) -> float:
    """The value a bucket stands for: within RELATIVE_ACCURACY of every value in it."""
    if index < 0:
        return 0.0
    return 2 * _GAMMA**index / (_GAMMA + 1)


def histogram(counts: Mapping[str, int], prefix: str) -> dict[int, int]:
    """The buckets under ``prefix`` (``TTFT`` or ``ANSWER_CHARS``) with their counts."""
    return {
        int(name[len(prefix) :]): n
        for name, n in counts.items()
        if name.startswith(prefix) and n > 0
    }


def percentile(buckets: Mapping[int, int], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of a histogram, within RELATIVE_ACCURACY; None if empty.

    The value of rank ``q/100 * (n - 1)``, counted from 0 in ascending order, as DDSketch
    and numpy's default (lower) interpolation pick it.
    """
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = q / 100 * (total - 1)
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen > rank:
            return bucket_value(index)
    return bucket_value(max(buckets))


class Cell(NamedTuple):
    """A day and the dimensions the page filters on; "" where a dialog has no value."""

    day: str  # YYYY-MM-DD in the reporting time zone
    mode: str
    model_id: str
    status: str
    type: str
    feedback: str  # "up", "down" or ""
    lang: str  # the answer's: "ko", "en" (letters, not Korean) or "" (no letters)


class Slice(NamedTuple):
    """A day of one user in one mode with one model: the per-user table's rows."""

    day: str
    user_id: str
    mode: str
    model_id: str


def report_day(request_time: str, timezone: ZoneInfo) -> str:
    """The day of a sort key in the reporting time zone."""
    return parse_request_time(request_time).astimezone(timezone).date().isoformat()


def answer_language(text: str) -> str:
    """The answer's language: "ko" Korean, "en" letters of another script, "" no letters."""
    if is_korean(text):
        return "ko"
    return "" if hangul_share(text) is None else "en"


class Contribution(NamedTuple):
    """What one dialog adds to its cell and its slice."""

    cell: Cell
    cell_counts: Counter[str]
    slice: Slice
    slice_counts: Counter[str]
    conversation_id: str


def contribution(dialog: Dialog, timezone: ZoneInfo) -> Contribution:
    day = report_day(dialog.request_time, timezone)
    mode, model = dialog.mode or "normal", dialog.model_id or ""
    cell = Cell(
        day,
        mode,
        model,
        dialog.status,
        dialog.type,
        dialog.feedback or "",
        answer_language(dialog.msg),
    )
    counts: Counter[str] = Counter({DIALOGS: 1})
    for name, value in (
        (INPUT_TOKENS, dialog.input_tokens),
        (OUTPUT_TOKENS, dialog.output_tokens),
        (CACHE_READ_TOKENS, dialog.cache_read_tokens),
        (CACHE_WRITE_TOKENS, dialog.cache_write_tokens),
        (COST, dialog.cost_microusd),
    ):
        if value:
            counts[name] += value
    if dialog.cache_read_tokens:
        counts[CACHE_HITS] += 1
    if dialog.output_tokens is not None:
        counts[METERED] += 1
        counts[METERED_CHARS] += len(dialog.msg)
        counts[METERED_OUTPUT] += dialog.output_tokens
    if dialog.superseded_by:
        counts[REPLACED] += 1
    if dialog.ttft_ms is not None:
        counts[TIMED] += 1
        counts[f"{TTFT}{bucket(dialog.ttft_ms)}"] += 1
    counts[f"{ANSWER_CHARS}{bucket(len(dialog.msg))}"] += 1
    if dialog.feedback == "down" and dialog.feedback_reason:
        counts[f"{REASON}{dialog.feedback_reason}"] += 1
    if dialog.status in _FAILED:
        counts[f"{ERROR_KIND}{dialog.error_kind or 'unknown'}"] += 1

    per_user: Counter[str] = Counter({DIALOGS: 1})
    for name in (INPUT_TOKENS, OUTPUT_TOKENS, COST):
        per_user[name] = counts[name]
    per_user[RATED] = 1 if dialog.feedback else 0
    per_user[DOWN] = 1 if dialog.feedback == "down" else 0
    per_user[ERRORS] = 1 if dialog.status in _FAILED else 0
    per_user[STOPPED] = 1 if dialog.status == Status.STOPPED else 0
    per_user[CUT] = 1 if dialog.status == Status.CUT else 0
    return Contribution(
        cell,
        counts,
        Slice(day, dialog.user_id, mode, model),
        +per_user,  # zeros dropped
        conversation_of(dialog),
    )


class Delta(NamedTuple):
    """What a change of one dialog does to the rollups: counters to add (negative to take
    away) per cell and per slice, and the slices whose conversation sets gain or lose the
    dialog's conversation."""

    cells: dict[Cell, Counter[str]]
    slices: dict[Slice, Counter[str]]
    joined: dict[Slice, str]  # the slice now holds a dialog of this conversation
    left: dict[Slice, str]  # a dialog of this conversation left the slice


def delta(old: Dialog | None, new: Dialog | None, timezone: ZoneInfo) -> Delta:
    """The change from ``old`` to ``new`` (None: absent), nonzero counters only.

    Writing a dialog again unchanged (a retry, an outbox replay) is an empty delta.
    ``left`` only says a dialog left: whether its conversation still has another dialog in
    that slice is for the store to tell (both stores keep a count of the conversation's
    dialogs per slice).
    """
    cells: dict[Cell, Counter[str]] = {}
    slices: dict[Slice, Counter[str]] = {}
    joined: dict[Slice, str] = {}
    left: dict[Slice, str] = {}
    for dialog, sign in ((old, -1), (new, 1)):
        if dialog is None:
            continue
        part = contribution(dialog, timezone)
        for key, counts, into in (
            (part.cell, part.cell_counts, cells),
            (part.slice, part.slice_counts, slices),
        ):
            total = into.setdefault(key, Counter())  # type: ignore[arg-type]
            for name, value in counts.items():
                total[name] += sign * value
        (joined if sign > 0 else left)[part.slice] = part.conversation_id
    same = old is not None and new is not None and joined == left
    if same:  # the dialog stays in its slice and conversation
        joined, left = {}, {}
    return Delta(
        {key: _nonzero(c) for key, c in cells.items() if _nonzero(c)},
        {key: _nonzero(c) for key, c in slices.items() if _nonzero(c)},
        joined,
        left,
    )


def _nonzero(counts: Counter[str]) -> Counter[str]:
    return Counter({name: value for name, value in counts.items() if value})


@dataclass
class Tally:
    """Rollups counted from raw dialogs: what a store's rollups must equal."""

    cells: dict[Cell, Counter[str]] = field(default_factory=dict)
    slices: dict[Slice, Counter[str]] = field(default_factory=dict)
    conversations: dict[Slice, set[str]] = field(default_factory=dict)

    def add(self, dialog: Dialog, timezone: ZoneInfo) -> None:
        part = contribution(dialog, timezone)
        self.cells.setdefault(part.cell, Counter()).update(part.cell_counts)
        self.slices.setdefault(part.slice, Counter()).update(part.slice_counts)
        self.conversations.setdefault(part.slice, set()).add(part.conversation_id)


def tally(dialogs: Iterable[Dialog], timezone: ZoneInfo) -> Tally:
    counted = Tally()
    for dialog in dialogs:
        counted.add(dialog, timezone)
    return counted


class UserRollup(NamedTuple):
    """A slice's counters over a range of days, as a store returns them: one row per user,
    mode and model, the conversations as a set (a user's rows are merged by the page)."""

    user_id: str
    mode: str
    model_id: str
    last_day: str
    counts: Counter[str]
    conversations: frozenset[str]


def user_rollups(
    slices: Mapping[Slice, Counter[str]], conversations: Mapping[Slice, set[str]]
) -> list[UserRollup]:
    """Slices of several days merged per user, mode and model."""
    merged: dict[tuple[str, str, str], tuple[str, Counter[str], set[str]]] = {}
    for key, counts in slices.items():
        if counts.get(DIALOGS, 0) <= 0:
            continue
        last, total, seen = merged.setdefault(
            (key.user_id, key.mode, key.model_id), (key.day, Counter(), set())
        )
        total.update(counts)
        seen.update(conversations.get(key, ()))
        if key.day > last:
            merged[(key.user_id, key.mode, key.model_id)] = (key.day, total, seen)
    return sorted(
        UserRollup(user, mode, model, last, total, frozenset(seen))
        for (user, mode, model), (last, total, seen) in merged.items()
    )


@dataclass(frozen=True)
class CellFilter:
    """The page's filters that the cells can answer; empty means everything."""

    modes: Sequence[str] = ()
    models: Sequence[str] = ()
    statuses: Sequence[str] = ()
    types: Sequence[str] = ()
    feedbacks: Sequence[str] = ()  # "up", "down", "" (none)

    def matches(self, cell: Cell) -> bool:
        return all(
            not wanted or value in wanted
            for wanted, value in (
                (self.modes, cell.mode),
                (self.models, cell.model_id),
                (self.statuses, cell.status),
                (self.types, cell.type),
                (self.feedbacks, cell.feedback),
            )
        )

    def matches_slice(self, row: UserRollup) -> bool:
        """A per-user row has a mode and a model, not the other dimensions."""
        return (not self.modes or row.mode in self.modes) and (
            not self.models or row.model_id in self.models
        )


def days(first: date, last: date) -> list[str]:
    """The days from ``first`` to ``last``, both included, as YYYY-MM-DD."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def day_bounds(first: str, last: str, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants that begin ``first`` and end ``last`` in the reporting time zone."""
    start = datetime.combine(date.fromisoformat(first), datetime.min.time(), timezone)
    end = datetime.combine(
        date.fromisoformat(last) + timedelta(days=1), datetime.min.time(), timezone
    )
    return start, end
