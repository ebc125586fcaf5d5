"""The History page's numbers, from the rollups, and its table's rows and exports; pandas,
no Streamlit.

Totals and charts sum the rollup cells of the range (``chatbot.rollups``: a few dozen a day,
however many dialogs) that the page's ``CellFilter`` lets through; the per-user table merges
the stores' per-user rows. Only the table's page and the exports are dialogs
(``dialogs_frame``).

Each function takes the cells as a store returns them or as a ``CellTable``, the same cells in
columns that numpy sums. A year (about 50,000 cells, a million counters) converts in about
0.2 s, and each function then takes 2 to 30 ms where a loop over the Counters takes 0.2 s: a
page that draws several charts from one read converts it once (``cell_table``).

Rates are fractions (0 to 1), NaN when nothing was counted; money is US dollars
(``cost_usd``), and won in a ``krw`` column when a rate is given; days are the reporting time
zone's (the cells'), as ``datetime.date``, in order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from operator import itemgetter
from typing import TypeAlias

import numpy as np
import pandas as pd

from chatbot import rollups
from chatbot.masking import mask_personal_data
from chatbot.rollups import (
    ANSWER_CHARS,
    CACHE_HITS,
    CACHE_READ_TOKENS,
    COST,
    CUT,
    DIALOGS,
    DOWN,
    ERROR_KIND,
    ERRORS,
    INPUT_TOKENS,
    METERED,
    METERED_CHARS,
    METERED_OUTPUT,
    OUTPUT_TOKENS,
    RATED,
    REASON,
    STOPPED,
    TTFT,
    Cell,
    CellFilter,
    UserRollup,
)
from chatbot.store.base import FIELDS, Dialog, Status

# Column order of the table and of the exports: when, who, what, then the measurements.
COLUMNS: tuple[str, ...] = (
    "time",
    "user_id",
    "mode",
    "status",
    "type",
    "body",
    "msg",
    "model_id",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "latency_ms",
    "feedback",
    "feedback_reason",
    "feedback_comment",
    "trimmed_chars",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microusd",
    "stop_reason",
    "error_kind",
    "superseded_by",
    "conversation_id",
    "session_id",
    "request_id",
    "request_time",
)
_NUMBERS = (
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "latency_ms",
    "trimmed_chars",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microusd",
)


def dialogs_frame(dialogs: Iterable[Dialog]) -> pd.DataFrame:
    """One row per dialog, ``time`` as a UTC timestamp, numbers as nullable integers."""
    # Object columns: pandas' string dtype would copy 100,000 long texts into Arrow buffers
    # (about a second) before the page shows a few hundred of them.
    frame = pd.DataFrame(list(dialogs), columns=list(FIELDS), dtype=object)
    # The first 23 characters are the time in both key formats (ISO 8601 takes the
    # original's space as well as a T).
    frame["time"] = pd.to_datetime(
        frame["request_time"].str.slice(0, 23), utc=True, format="ISO8601"
    )
    frame[list(_NUMBERS)] = frame[list(_NUMBERS)].astype("Int64")
    frame["mode"] = frame["mode"].fillna("normal")  # rows of the original system have none
    return frame[list(COLUMNS)]


@dataclass(frozen=True, eq=False)
class CellTable:
    """Rollup cells in columns, for numpy to sum: each cell's dimensions, and each of its
    counters as an entry (the cell's row, the value), grouped by name: the entries of
    ``names[i]`` are ``starts[i]`` up to ``starts[i + 1]``, so a sum reads only the names it
    needs.

    Besides its own counters, a cell has the per-user rows' outcome counters (``rated``,
    ``down``, ``errors``, ``stopped``, ``cut``: its dialogs, when its feedback or status is
    one), so that every rate is a ratio of two sums.
    """

    dims: pd.DataFrame  # a row per cell, a column per Cell field
    kinds: tuple[Cell, ...]  # a cell of each combination of the dimensions but the day
    kind: np.ndarray  # each cell's combination
    names: pd.Index
    starts: np.ndarray
    row: np.ndarray  # per entry
    value: np.ndarray


Cells: TypeAlias = Mapping[Cell, Counter[str]] | CellTable


def cell_table(cells: Cells) -> CellTable:
    """``cells`` in columns (a CellTable as it is)."""
    if isinstance(cells, CellTable):
        return cells
    keys, counters = list(cells), list(cells.values())
    dims = pd.DataFrame(keys, columns=list(Cell._fields), dtype=object)
    # The Counters' names and values in their own order, read at C speed (no loop here).
    lengths = np.fromiter(map(len, counters), np.int64, len(counters))
    row = np.repeat(np.arange(len(keys), dtype=np.int32), lengths)
    code, found = pd.factorize(np.fromiter(chain.from_iterable(counters), object, len(row)))
    value = np.fromiter(chain.from_iterable(map(dict.values, counters)), np.int64, len(row))
    # The outcome counters: each cell's dialogs again, under each outcome its dims count in.
    outcomes = _outcomes(dims)
    is_dialogs = np.asarray(found == DIALOGS)[code]
    counted, dialogs = row[is_dialogs], value[is_dialogs]
    parts = [(code, row, value)]
    for position, applies in enumerate(outcomes.values(), start=len(found)):
        hit = applies.to_numpy(bool)[counted]
        parts.append((np.full(hit.sum(), position), counted[hit], dialogs[hit]))
    code, row, value = (np.concatenate(part) for part in zip(*parts, strict=True))
    names = pd.Index([*found, *outcomes])
    # A radix sort in the smallest type that holds the codes (16 bits for a few hundred).
    order = np.argsort(code.astype(np.min_scalar_type(len(names))), kind="stable")
    kind = dims.groupby(list(Cell._fields[1:]), sort=False).ngroup().to_numpy()
    _, first = np.unique(kind, return_index=True)
    return CellTable(
        dims,
        tuple(keys[i] for i in first),
        kind,
        names,
        np.searchsorted(code[order], np.arange(len(names) + 1)),
        row[order],
        value[order],
    )


def _outcomes(dims: pd.DataFrame) -> dict[str, pd.Series]:
    """Per cell, whether its dialogs count under each outcome counter, as
    ``rollups.contribution`` counts them per user (from the feedback and the status)."""
    status, feedback = dims["status"], dims["feedback"]
    return {
        RATED: feedback != "",
        DOWN: feedback == "down",
        ERRORS: status.isin([Status.ERROR, Status.INCOMPLETE]),
        STOPPED: status == Status.STOPPED,
        CUT: status == Status.CUT,
    }


def _merge(
    cells: Cells,
    cell_filter: CellFilter,
    by: Sequence[str],
    names: Sequence[str],
    prefix: str = "",
) -> pd.DataFrame:
    """The counters ``names``, and every one under ``prefix`` if given, summed over the cells
    ``cell_filter`` lets through: a row per value of the dimensions ``by``, in order (without
    ``by``, one row), none where no cell matches."""
    table = cell_table(cells)
    # Asked once per combination: the filter does not look at the day (the read's range).
    verdicts = np.fromiter(map(cell_filter.matches, table.kinds), bool, len(table.kinds))
    keep = verdicts[table.kind]
    group = np.full(len(keep), -1)
    index: pd.Index
    if by:
        grouped = table.dims.loc[keep, list(by)].groupby(list(by), sort=True)
        group[keep] = grouped.ngroup().to_numpy()
        index = _dated(grouped.size().index)
    else:
        group[keep] = 0
        index = pd.RangeIndex(int(keep.any()))
    if prefix:
        names = [*names, *(name for name in table.names if name.startswith(prefix))]
    wanted = table.names.get_indexer(pd.Index(names))  # -1: no cell has it
    present = np.flatnonzero(wanted >= 0)
    first, lengths = table.starts[wanted[present]], np.diff(table.starts)[wanted[present]]
    # The entries of those names: each one's range, from first to first + length.
    entries = np.arange(lengths.sum()) + np.repeat(first - np.cumsum(lengths) + lengths, lengths)
    rows, columns = group[table.row[entries]], np.repeat(present, lengths)
    chosen = rows >= 0
    sums = np.zeros(len(index) * len(names), np.int64)
    np.add.at(sums, rows[chosen] * len(names) + columns[chosen], table.value[entries][chosen])
    return pd.DataFrame(sums.reshape(len(index), len(names)), index=index, columns=list(names))


def _dated(index: pd.Index) -> pd.Index:
    """``index`` with its days as dates."""
    if "day" not in index.names:
        return index
    if isinstance(index, pd.MultiIndex):
        level = index.names.index("day")
        return index.set_levels(list(index.levels[level].map(date.fromisoformat)), level=level)
    return index.map(date.fromisoformat)


def _under(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The columns under ``prefix``, named by what follows it (a reason, an error's kind)."""
    chosen = frame[[name for name in frame.columns if name.startswith(prefix)]]
    return chosen.rename(columns=lambda name: name[len(prefix) :])


def _ratio(part: pd.Series, whole: pd.Series) -> pd.Series:
    """``part / whole``, NaN where ``whole`` is 0."""
    return part / whole.where(whole > 0)


def _percentiles(frame: pd.DataFrame, prefix: str, columns: Mapping[str, float]) -> pd.DataFrame:
    """Per row, percentiles (``columns``: name -> q, 0-100) of the histogram under
    ``prefix``; NaN where the row has none."""
    histogram = _under(frame, prefix)
    # The buckets in the columns' order, parsed as rollups.histogram parses a Counter's names.
    buckets = list(rollups.histogram(dict.fromkeys(frame.columns, 1), prefix))
    rows = [
        {bucket: n for bucket, n in zip(buckets, counts, strict=True) if n}
        for counts in histogram.to_numpy().tolist()
    ]
    return pd.DataFrame(
        {column: [rollups.percentile(row, q) for row in rows] for column, q in columns.items()},
        index=frame.index,
        dtype=float,
    )


def _with_krw(
    frame: pd.DataFrame, krw_per_usd: float | None, usd: str = "cost_usd"
) -> pd.DataFrame:
    """``frame`` with a ``krw`` column after ``usd`` when a rate is given."""
    if krw_per_usd is not None:
        frame.insert(list(frame.columns).index(usd) + 1, "krw", frame[usd] * krw_per_usd)
    return frame


# What a summary of cells sums, besides the TTFT histogram.
_SUMS = (
    DIALOGS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    CACHE_READ_TOKENS,
    COST,
    RATED,
    DOWN,
    ERRORS,
    STOPPED,
    CUT,
)


def _summary(sums: pd.DataFrame, krw_per_usd: float | None) -> pd.DataFrame:
    """A breakdown's columns from each row's ``_SUMS`` and TTFT histogram."""
    frame = pd.DataFrame(
        {
            "dialogs": sums[DIALOGS],
            "input_tokens": sums[INPUT_TOKENS],
            "output_tokens": sums[OUTPUT_TOKENS],
            "cost_usd": sums[COST] / 1e6,
            "down_rate": _ratio(sums[DOWN], sums[RATED]),
            "error_rate": _ratio(sums[ERRORS], sums[DIALOGS]),
            "stop_rate": _ratio(sums[STOPPED], sums[DIALOGS]),
            "cut": sums[CUT],
        },
        index=sums.index,
    )
    frame = frame.join(_percentiles(sums, TTFT, {"ttft_p50_ms": 50, "ttft_p90_ms": 90}))
    frame["cache_hit_rate"] = _ratio(sums[CACHE_READ_TOKENS], sums[INPUT_TOKENS])
    return _with_krw(frame, krw_per_usd)


@dataclass(frozen=True)
class Totals:
    """The range's numbers under the filter; rates NaN and times None when nothing counted."""

    dialogs: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    down_rate: float  # 👎 of the rated dialogs
    error_rate: float  # error or incomplete
    stop_rate: float
    cut: int  # answers cut at the output limit
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None
    cache_hit_rate: float  # of the input tokens, those read from the prompt cache


def totals(cells: Cells, cell_filter: CellFilter) -> Totals:
    sums = _merge(cells, cell_filter, (), _SUMS, TTFT).sum().to_frame().T  # zeros for none
    row = _summary(sums, None).iloc[0]
    return Totals(
        dialogs=int(row["dialogs"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(sums[CACHE_READ_TOKENS].iloc[0]),
        cost_usd=float(row["cost_usd"]),
        down_rate=float(row["down_rate"]),
        error_rate=float(row["error_rate"]),
        stop_rate=float(row["stop_rate"]),
        cut=int(row["cut"]),
        ttft_p50_ms=None if pd.isna(row["ttft_p50_ms"]) else float(row["ttft_p50_ms"]),
        ttft_p90_ms=None if pd.isna(row["ttft_p90_ms"]) else float(row["ttft_p90_ms"]),
        cache_hit_rate=float(row["cache_hit_rate"]),
    )


def per_day(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Dialogs per day (rows) and mode (columns)."""
    sums = _merge(cells, cell_filter, ("day", "mode"), (DIALOGS,))
    return sums[DIALOGS].unstack("mode", fill_value=0)


def cost_per_day(
    cells: Cells, cell_filter: CellFilter, krw_per_usd: float | None = None
) -> pd.DataFrame:
    """US dollars per day (rows) and model id (columns), then the day's ``total`` (and that
    in won, ``krw``)."""
    sums = _merge(cells, cell_filter, ("day", "model_id"), (COST,))
    frame = sums[COST].unstack("model_id", fill_value=0) / 1e6
    frame["total"] = frame.sum(axis=1)
    return _with_krw(frame, krw_per_usd, "total")


BREAKDOWNS = ("mode", "model_id", "day")


def breakdown(
    cells: Cells, cell_filter: CellFilter, by: str, krw_per_usd: float | None = None
) -> pd.DataFrame:
    """A row per mode, model id or day (``by``): dialogs, tokens, cost, rates, answers cut,
    TTFT p50 and p90, cache hit rate; the costliest first (days in order)."""
    if by not in BREAKDOWNS:
        raise ValueError(f"breakdown by one of {BREAKDOWNS}, not {by!r}")
    frame = _summary(_merge(cells, cell_filter, (by,), _SUMS, TTFT), krw_per_usd)
    if by == "day":
        return frame
    return frame.sort_values(["cost_usd", "dialogs"], ascending=False, kind="stable")


# What a user's row sums.
_USER_SUMS = (DIALOGS, INPUT_TOKENS, OUTPUT_TOKENS, COST, RATED, DOWN, ERRORS, STOPPED)


def user_table(
    users: Sequence[UserRollup], cell_filter: CellFilter, krw_per_usd: float | None = None
) -> pd.DataFrame:
    """A row per user (the index, ``user_id``) over their rows of the filter's modes and
    models: dialogs, conversations (distinct), tokens, cost, rates, the last day active; the
    costliest first, then the busiest."""
    rows = [row for row in users if cell_filter.matches_slice(row)]
    counts = itemgetter(*_USER_SUMS)  # a Counter reads a missing name as 0
    sums = (
        pd.DataFrame(
            [(row.user_id, row.last_day, *counts(row.counts)) for row in rows],
            columns=["user_id", "last_day", *_USER_SUMS],
        )
        .astype(dict.fromkeys(_USER_SUMS, "int64"))
        .groupby("user_id")
        .agg({"last_day": "max", **dict.fromkeys(_USER_SUMS, "sum")})
    )
    conversations: dict[str, set[str]] = {}
    for row in rows:
        conversations.setdefault(row.user_id, set()).update(row.conversations)
    frame = pd.DataFrame(
        {
            "dialogs": sums[DIALOGS],
            "conversations": pd.Series(
                {user: len(ids) for user, ids in conversations.items()}, dtype="int64"
            ),
            "tokens": sums[INPUT_TOKENS] + sums[OUTPUT_TOKENS],
            "cost_usd": sums[COST] / 1e6,
            "down_rate": _ratio(sums[DOWN], sums[RATED]),
            "error_rate": _ratio(sums[ERRORS], sums[DIALOGS]),
            "stop_rate": _ratio(sums[STOPPED], sums[DIALOGS]),
            "last_active": sums["last_day"].map(date.fromisoformat),
        },
        index=sums.index,
    )
    frame = _with_krw(frame, krw_per_usd)
    return frame.sort_values(["cost_usd", "dialogs"], ascending=False, kind="stable")


def stops_by_mode(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Per mode: the stop rate, the median length (characters) of stopped and of complete
    answers, and ``stop_position``, the one over the other: how far into an answer users
    stop it."""
    sums = _merge(cells, cell_filter, ("mode", "status"), (DIALOGS, STOPPED), ANSWER_CHARS)
    per_mode = sums[[DIALOGS, STOPPED]].groupby(level="mode").sum()
    medians = _percentiles(sums, ANSWER_CHARS, {"p50": 50})["p50"].unstack("status")
    frame = pd.DataFrame(
        {
            "stop_rate": _ratio(per_mode[STOPPED], per_mode[DIALOGS]),
            "median_stop_chars": medians.get(Status.STOPPED, np.nan),
            "median_complete_chars": medians.get(Status.COMPLETE, np.nan),
        },
        index=per_mode.index,
    )
    frame["stop_position"] = frame["median_stop_chars"] / frame["median_complete_chars"]
    return frame


def cuts_per_day(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Per day: answers cut at the output limit (``cut``) and their ``share`` of dialogs."""
    sums = _merge(cells, cell_filter, ("day",), (DIALOGS, CUT))
    return pd.DataFrame({"cut": sums[CUT], "share": _ratio(sums[CUT], sums[DIALOGS])})


def _counts(counts: pd.Series, index: str) -> pd.DataFrame:
    """The nonzero ``counts`` as a ``dialogs`` column, the largest first (ties by name)."""
    counts = counts[counts > 0].sort_index().sort_values(ascending=False, kind="stable")
    return counts.astype("int64").rename_axis(index).to_frame("dialogs")


def errors_by_kind(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Failed dialogs (error, incomplete) per kind (a ``chatbot.errors.Problem``, or
    "unknown"), the commonest first."""
    sums = _merge(cells, cell_filter, (), (), ERROR_KIND)
    return _counts(_under(sums, ERROR_KIND).sum(), "kind")


def errors_per_day(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Failed dialogs per day (rows) and kind (columns)."""
    sums = _under(_merge(cells, cell_filter, ("day",), (), ERROR_KIND), ERROR_KIND)
    return sums.loc[:, sums.sum() > 0].rename_axis(columns="kind")


def feedback(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Per day: dialogs rated, rated 👎, and the 👎 rate."""
    sums = _merge(cells, cell_filter, ("day",), (RATED, DOWN))
    return pd.DataFrame(
        {"rated": sums[RATED], "down": sums[DOWN], "down_rate": _ratio(sums[DOWN], sums[RATED])}
    )


UNSPECIFIED = "unspecified"  # down_reasons' row of 👎 without a reason


def down_reasons(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """👎 per reason (a ``FeedbackReason``, or UNSPECIFIED), the commonest first."""
    sums = _merge(cells, cell_filter, (), (DOWN,), REASON)
    reasons = _under(sums, REASON).sum()
    reasons[UNSPECIFIED] = sums[DOWN].sum() - reasons.sum()
    return _counts(reasons, "reason")


def ttft_per_model_day(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Time to first token (ms) per day (rows), in flat columns ``"<model id> p50"`` and
    ``"<model id> p90"``, a model's two side by side: st.line_chart draws a line per column.
    A model without timings has no column; a day without them is NaN (a gap)."""
    sums = _merge(cells, cell_filter, ("day", "model_id"), (), TTFT)
    stats = _percentiles(sums, TTFT, {"p50": 50, "p90": 90})
    wide = {stat: stats[stat].unstack("model_id") for stat in stats.columns}
    timed = wide["p50"].notna().any()
    return pd.DataFrame(
        {f"{model} {stat}": wide[stat][model] for model in timed[timed].index for stat in wide},
        index=wide["p50"].index,
    )


def cache_hits_per_day(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Per day: ``token_hit_rate``, the share of input tokens read from the prompt cache, and
    ``dialog_hit_rate``, of the dialogs with a token count those that read any."""
    names = (INPUT_TOKENS, CACHE_READ_TOKENS, CACHE_HITS, METERED)
    sums = _merge(cells, cell_filter, ("day",), names)
    return pd.DataFrame(
        {
            "token_hit_rate": _ratio(sums[CACHE_READ_TOKENS], sums[INPUT_TOKENS]),
            "dialog_hit_rate": _ratio(sums[CACHE_HITS], sums[METERED]),
        }
    )


_LANGUAGES = ["ko", "en"]


def tokens_per_1000_chars(cells: Cells, cell_filter: CellFilter) -> pd.DataFrame:
    """Per mode and model id (rows): output tokens per 1,000 characters of Korean answers
    (``ko``) and of English ones (``en``), of the dialogs with a token count, and
    ``ko_vs_en``, the one over the other; rows with neither left out."""
    sums = _merge(cells, cell_filter, ("mode", "model_id", "lang"), (METERED_OUTPUT, METERED_CHARS))
    per_1000 = 1000 * _ratio(sums[METERED_OUTPUT], sums[METERED_CHARS])
    frame = per_1000.unstack("lang").reindex(columns=_LANGUAGES).rename_axis(columns=None)
    frame["ko_vs_en"] = frame["ko"] / frame["en"]
    return frame.dropna(how="all")


def korean_premium(cells: Cells, cell_filter: CellFilter) -> float | None:
    """Output tokens per character of Korean answers over those of English ones, all modes
    and models together (1.8: a Korean character costs 80% more); None without both."""
    sums = _merge(cells, cell_filter, ("lang",), (METERED_OUTPUT, METERED_CHARS))
    per_char = _ratio(sums[METERED_OUTPUT], sums[METERED_CHARS]).reindex(_LANGUAGES)
    ratio = float(per_char["ko"] / per_char["en"])
    return ratio if np.isfinite(ratio) else None


# A cell starting with one of these is a formula to Excel (tab and CR too, per OWASP's CSV
# injection advice): a question like "=HYPERLINK(...)" must stay text in an analyst's sheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_cell(value: object) -> object:
    """A text cell that Excel would run as a formula, behind a quote; anything else as is."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


# The columns that hold what users wrote or were told, and their ids (e-mails, when signed in).
_PERSONAL_COLUMNS = ("user_id", "body", "msg", "feedback_comment", "document_text")


def masked(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with personal data masked in the columns that can hold it."""
    present = [name for name in _PERSONAL_COLUMNS if name in frame.columns]
    return frame.assign(
        **{name: frame[name].map(_masked_cell, na_action="ignore") for name in present}
    )


def _masked_cell(value: object) -> object:
    return mask_personal_data(value) if isinstance(value, str) else value


def to_csv(frame: pd.DataFrame, mask: bool = False) -> bytes:
    """UTF-8 with a byte-order mark: Excel then opens Korean text correctly.

    Text cells that Excel would read as a formula are prefixed with ``'``; numbers and
    times are not text and stay as they are. ``mask``: personal data masked first.
    """
    frame = masked(frame) if mask else frame
    text_columns = frame.select_dtypes(include=["object", "str"]).columns
    safe = frame.assign(**{name: frame[name].map(_as_text_cell) for name in text_columns})
    # CRLF rows (RFC 4180): the csv module quotes only the line terminator's characters, so
    # with "\n" a bare "\r" in an answer would stay unquoted, end the row for Excel and start
    # the next one with text the prefix above never saw.
    return safe.to_csv(
        index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ", lineterminator="\r\n"
    ).encode("utf-8-sig")


def to_json(frame: pd.DataFrame, mask: bool = False) -> bytes:
    """A JSON array of records, Korean kept as is, times in ISO 8601 UTC; ``mask``:
    personal data masked first."""
    frame = masked(frame) if mask else frame
    return frame.to_json(
        orient="records", force_ascii=False, date_format="iso", date_unit="ms"
    ).encode("utf-8")
