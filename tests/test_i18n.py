"""Every text the app looks up exists in Korean and English, with the same placeholders, and
no text is left that nothing looks up.

The keys are read from the source: the first argument of each ``t(...)`` call in app.py,
pages/ and chatbot/, either a literal or one of the ways a key is built at run time below. A
call whose key cannot be told from the source fails the first test, so that a new way of
building keys gets listed here rather than silently skipped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from string import Formatter

import pytest

from chatbot.conversations import Age
from chatbot.documents import DocumentErrorKind, ReadLimit
from chatbot.errors import Problem
from chatbot.i18n import _TEXTS
from chatbot.store.base import FeedbackReason
from chatbot.store.outbox import OutboxProblem, Saved

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    ROOT / "app.py",
    *sorted((ROOT / "pages").glob("*.py")),
    *sorted((ROOT / "chatbot").rglob("*.py")),
]

# f"<prefix>{value}": the values each prefix is followed by.
BUILT_FROM_PREFIX: dict[str, set[str]] = {
    "document_": {*DocumentErrorKind, *ReadLimit},  # why a file failed, or its reading stopped
    "save_": set(Saved) - {Saved.STORED},  # a stored dialog needs no notice
    "outbox_": set(OutboxProblem),
    "reason_": set(FeedbackReason),
    "copy_": {"label", "copied", "failed"},  # the copy button's three labels
}
# t(function(...)): the keys the function returns.
BUILT_BY_FUNCTION: dict[str, set[str]] = {"classify": set(Problem)}
# t(name) where the name holds a member of an enum whose values are keys.
ENUM_NAMES: dict[str, set[str]] = {"age": set(Age)}  # the conversation list's groups


def _t_calls(tree: ast.AST) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
    """Each ``t(...)`` call with a key argument, and the nodes enclosing it, innermost last."""

    def walk(node: ast.AST, outer: list[ast.AST]) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "t"
            and node.args
        ):
            yield node, outer
        for child in ast.iter_child_nodes(node):
            yield from walk(child, [*outer, node])

    return walk(tree, [])


def _loop_values(name: str, outer: list[ast.AST]) -> set[str] | None:
    """The literals a loop variable takes: ``for name, ... in (("key", ...), ...)``."""
    for node in reversed(outer):
        if not isinstance(node, ast.For) or not isinstance(node.iter, ast.Tuple | ast.List):
            continue
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        names = [target.id if isinstance(target, ast.Name) else None for target in targets]
        if name not in names:
            continue
        index = names.index(name)
        rows = [row.elts if isinstance(row, ast.Tuple) else [row] for row in node.iter.elts]
        values = {row[index].value for row in rows if isinstance(row[index], ast.Constant)}
        return values if len(values) == len(rows) else None
    return None


def _keys(arg: ast.AST, outer: list[ast.AST]) -> set[str] | None:
    """The keys a call's first argument can be, or None if the source does not tell."""
    match arg:
        case ast.Constant(value=str(key)):
            return {key}
        case ast.IfExp(body=body, orelse=orelse):
            one, other = _keys(body, outer), _keys(orelse, outer)
            return one | other if one is not None and other is not None else None
        case ast.JoinedStr(values=[ast.Constant(value=str(prefix)), ast.FormattedValue()]):
            values = BUILT_FROM_PREFIX.get(prefix)
            return {f"{prefix}{value}" for value in values} if values is not None else None
        case ast.Call(func=ast.Name(id=function)):
            values = BUILT_BY_FUNCTION.get(function)
            return {str(value) for value in values} if values is not None else None
        case ast.Name(id=name) if name in ENUM_NAMES:
            return ENUM_NAMES[name]
        case ast.Name(id=name):
            return _loop_values(name, outer)
    return None


def _collect() -> tuple[set[str], list[str]]:
    used: set[str] = set()
    unknown: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        for call, outer in _t_calls(tree):
            keys = _keys(call.args[0], outer)
            if keys is None:
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                unknown.append(f"{where}: t({ast.unparse(call.args[0])}, ...)")
            else:
                used |= keys
    return used, unknown


USED, UNKNOWN = _collect()


def _placeholders(text: str) -> list[tuple[str, str | None, str | None]]:
    """The ``{name:spec}`` fields of a format string, in a comparable order."""
    fields = Formatter().parse(text)
    return sorted((name, spec, conversion) for _, name, spec, conversion in fields if name)


def test_every_key_a_call_uses_can_be_told_from_the_source() -> None:
    assert UNKNOWN == [], "list how these keys are built in tests/test_i18n.py"
    # Each way of naming a key was found: a literal, a loop's, a prefix's and a function's.
    assert {"app_title", "export_csv", "save_lost", "outbox_damaged", "throttled"} <= USED


@pytest.mark.parametrize("key", sorted(USED))
def test_every_key_used_has_a_korean_and_an_english_text(key: str) -> None:
    assert key in _TEXTS
    ko, en = _TEXTS[key]
    assert ko.strip() and en.strip()


@pytest.mark.parametrize("key", sorted(_TEXTS))
def test_both_languages_have_the_same_placeholders(key: str) -> None:
    ko, en = _TEXTS[key]
    assert _placeholders(ko) == _placeholders(en)


def test_no_text_is_unused() -> None:
    assert set(_TEXTS) - USED == set()
