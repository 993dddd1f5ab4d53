"""Whether a written expression is well formed, for the self-checks: no sympy, nothing evaluated.

The grader reads these answers with its own parser (grader/checks/expressions/), which needs
sympy, so the student kit cannot hold it. This check follows the same grammar, token by token:
the characters and names the grader accepts, operators between operands, balanced parentheses,
a whole-number exponent, one comparison where one is asked for, and in a big-O answer either a
bare count or `O(...)` around the whole of it (or `Θ(...)`, `Ω(...)`, also spelled `Theta`, `Omega`,
`\\Theta`, `\\Omega`). It is more lenient than the grader in a few
corners (an ambiguous `1/2n`, a power of a power, size limits, what O(...) may hold), never
stricter: an answer it refuses, the grader refuses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Mode", "expression_problem"]

Mode = Literal["expression", "big_o", "comparison"]

MAX_LENGTH = 200  # the grader's limit on an answer's length, in characters
_WHITESPACE = " \t\r\n\u00a0"
_DIGITS = "0123456789"
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺"
_SINGLE = {"+": "+", "-": "-", "−": "-", "*": "*", "·": "*", "⋅": "*", "×": "*", "/": "/", "^": "^",
           "(": "(", ")": ")", ">": ">", "<": "<", "≥": ">=", "≤": "<=", "=": "="}
_DOUBLE = {"**": "^", ">=": ">=", "<=": "<=", "==": "="}
_COMPARISONS = frozenset({">", "<", ">=", "<=", "="})
# The orders of growth a big-O answer may be wrapped in, as the grader reads them (its tokens.py).
_ORDER_WORDS = {"O": "O", "Theta": "Θ", "Omega": "Ω"}
_ORDER_CHARS = {"Θ": "Θ", "ϴ": "Θ", "Ω": "Ω", "\u2126": "Ω"}


class _Problem(ValueError):
    """An answer that is not well formed; the message is for the student."""


@dataclass(frozen=True)
class _Token:
    """One token: kind (num var O op sup ( ) cmp), normalised text and 1-based position."""

    kind: str
    text: str
    pos: int


def expression_problem(text: str, mode: Mode, variables: Iterable[str]) -> str | None:
    """None if `text` is a well-formed answer of this kind, else what is wrong, for the student."""
    try:
        if len(text) > MAX_LENGTH:
            raise _Problem(f"the answer is too long ({len(text)} characters; at most {MAX_LENGTH})")
        tokens = _tokenize(text, frozenset(variables))
        for side in _sides(tokens, mode):
            _check_sequence(side, mode)
    except _Problem as problem:
        return str(problem)
    return None


def _tokenize(text: str, variables: frozenset[str]) -> list[_Token]:
    """The tokens of `text`; a character or name the grader does not accept is a problem."""
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch, pair = text[i], text[i:i + 2]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _DIGITS:
            end = _number_end(text, i)
            tokens.append(_Token("num", text[i:end], i + 1))
            i = end
        elif ch in _SUPERSCRIPTS:
            end = i
            while end < len(text) and text[end] in _SUPERSCRIPTS:
                end += 1
            tokens.append(_Token("sup", text[i:end], i + 1))
            i = end
        elif (ch.isascii() and ch.isalpha()) or (ch == "\\" and _letters(text, i + 1) in ("Theta", "Omega")):
            backslash = int(ch == "\\")
            word = _letters(text, i + backslash)
            tokens += _word(word, i + 1, variables)
            i += backslash + len(word)
        elif ch in _ORDER_CHARS:
            tokens.append(_Token("O", _ORDER_CHARS[ch], i + 1))
            i += 1
        elif pair in ("=>", "=<"):
            raise _Problem(f"write {pair[1]}= instead of {pair} at position {i + 1}")
        elif pair in _DOUBLE:
            tokens.append(_Token("cmp" if _DOUBLE[pair] in _COMPARISONS else "op", _DOUBLE[pair], i + 1))
            i += 2
        elif ch in _SINGLE:
            normal = _SINGLE[ch]
            kind = "cmp" if normal in _COMPARISONS else normal if normal in "()" else "op"
            tokens.append(_Token(kind, normal, i + 1))
            i += 1
        else:
            hint = "; write numbers like 0.5" if ch == "." else ""
            raise _Problem(f"unexpected character {ch!r} at position {i + 1}{hint}")
    return tokens


def _letters(text: str, start: int) -> str:
    """The run of ASCII letters starting at `start`."""
    end = start
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    return text[start:end]


def _number_end(text: str, start: int) -> int:
    """Where the number starting at `start` ends: digits, optionally '.' and more digits."""
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    if end < len(text) and text[end] == ".":
        if end + 1 >= len(text) or text[end + 1] not in _DIGITS:
            raise _Problem(f"a digit must follow the '.' at position {end + 1}")
        end += 1
        while end < len(text) and text[end] in _DIGITS:
            end += 1
    return end


def _word(word: str, pos: int, variables: frozenset[str]) -> list[_Token]:
    """A run of letters: `O` (`Theta`, `Omega`), or variables each on its own (`mn` is m times n)."""
    if word in _ORDER_WORDS:
        return [_Token("O", _ORDER_WORDS[word], pos)]
    if all(letter in variables for letter in word):
        return [_Token("var", letter, pos + i) for i, letter in enumerate(word)]
    names = " and ".join(sorted(variables))
    shown = word if len(word) <= 20 else word[:20] + "..."
    hint = " (big-O is written with a capital O)" if word == "o" else ""
    raise _Problem(f"unknown name '{shown}' at position {pos}; the only variables are {names}{hint}")


def _sides(tokens: list[_Token], mode: Mode) -> list[list[_Token]]:
    """The token runs to check: both sides of a comparison, the inside of O(...), or all tokens."""
    comparisons = [i for i, token in enumerate(tokens) if token.kind == "cmp"]
    if mode != "comparison":
        if comparisons:
            token = tokens[comparisons[0]]
            what = "an equation" if token.text == "=" else "a comparison"
            raise _Problem(f"'{token.text}' at position {token.pos}: write only the expression, not {what}")
        return [_inside_big_o(tokens)] if mode == "big_o" else [tokens]
    if not comparisons:
        raise _Problem("write a comparison such as m > n")
    if len(comparisons) > 1:
        second = tokens[comparisons[1]]
        raise _Problem(f"write a single comparison; a second '{second.text}' is at position {second.pos}")
    split = comparisons[0]
    if split == 0 or split == len(tokens) - 1:
        raise _Problem(f"the comparison at position {tokens[split].pos} needs an expression on each side")
    return [tokens[:split], tokens[split + 1:]]


def _inside_big_o(tokens: list[_Token]) -> list[_Token]:
    """The tokens inside `O( ... )`, which must wrap the whole answer; a bare count as it is."""
    if not tokens or tokens[0].kind != "O":
        return tokens  # an O later on is refused by _check_sequence
    if len(tokens) < 2 or tokens[1].kind != "(":
        raise _Problem(f"write big-O as {tokens[0].text}(...), with parentheses, at position {tokens[0].pos}")
    depth = 0
    for index, token in enumerate(tokens[1:], start=1):
        depth += {"(": 1, ")": -1}.get(token.kind, 0)
        if depth == 0:
            if index != len(tokens) - 1:
                raise _Problem(f"{tokens[0].text}(...) must wrap the whole answer, as in {tokens[0].text}(n^2 + m)")
            if index == 2:
                raise _Problem(f"empty parentheses at position {tokens[1].pos}")
            return tokens[2:index]
    raise _Problem(f"missing ')' for the '(' at position {tokens[1].pos}")


def _check_sequence(tokens: Sequence[_Token], mode: Mode) -> None:
    """Operands and operators alternate (a product may be implicit), parentheses balance."""
    opened: list[_Token] = []
    want_operand = True  # at the start, after '(' and after an operator
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.kind in ("num", "var", "("):
            if token.kind == "num" and not want_operand:
                raise _Problem(f"unexpected number at position {token.pos}; write n^2 for a power, or put * "
                               "before a factor")
            if token.kind == "(":
                opened.append(token)
            want_operand = token.kind == "("
        elif token.kind == ")":
            if not opened:
                raise _Problem(f"unexpected ')' at position {token.pos}")
            if want_operand:
                before = tokens[index - 2]
                raise _Problem(f"empty parentheses at position {before.pos}" if before.kind == "("
                               else f"something is missing before the ')' at position {token.pos}")
            opened.pop()
        elif token.kind == "op" and token.text in "+-":
            want_operand = True  # a sign or a sum: either way an operand follows
        elif token.kind == "op":
            if want_operand:
                raise _Problem(f"unexpected '{token.text}' at position {token.pos}")
            want_operand = True
            if token.text == "^":
                index = _exponent_end(tokens, index, token)
                want_operand = False
        elif token.kind == "sup":
            if want_operand:
                raise _Problem(f"unexpected superscript at position {token.pos}")
        else:  # O inside an answer
            raise _Problem(_misplaced_o(token, mode))
    if opened:
        raise _Problem(f"missing ')' for the '(' at position {opened[-1].pos}")
    if not tokens:
        raise _Problem("the answer is empty")
    if want_operand:
        raise _Problem(f"the answer ends too early: something is missing after '{tokens[-1].text}' at "
                       f"position {tokens[-1].pos}")


def _exponent_end(tokens: Sequence[_Token], index: int, caret: _Token) -> int:
    """Past the exponent after a '^': signs, then a whole number, maybe in parentheses (as the grader)."""
    index = _skip_signs(tokens, index)
    if index >= len(tokens):
        raise _Problem(f"the answer ends too early: an exponent is missing after the '^' at position {caret.pos}")
    number = tokens[index]
    if number.kind == "(":
        inner = _skip_signs(tokens, index + 1)
        closed = inner + 1 < len(tokens) and tokens[inner].kind == "num" and tokens[inner + 1].kind == ")"
        if not closed:
            raise _Problem(_exponent_problem(number.pos))
        number, index = tokens[inner], inner + 1
    elif number.kind != "num":
        raise _Problem(_exponent_problem(number.pos))
    if "." in number.text:
        raise _Problem(f"the exponent at position {number.pos} must be a whole number")
    return index + 1


def _skip_signs(tokens: Sequence[_Token], index: int) -> int:
    """Past any '+' and '-' at `index`."""
    while index < len(tokens) and tokens[index].kind == "op" and tokens[index].text in "+-":
        index += 1
    return index


def _exponent_problem(pos: int) -> str:
    """The problem with an exponent that is not a number."""
    return f"the exponent at position {pos} must be a whole number such as 2 (not a variable or an expression)"


def _misplaced_o(token: _Token, mode: Mode) -> str:
    """The problem with an O(...) (or Θ, Ω) where this kind of answer has none."""
    if mode == "expression":
        return f"{token.text}(...) at position {token.pos}: write the exact expression, not a big-O bound"
    if mode == "comparison":
        return f"{token.text}(...) at position {token.pos} is not allowed in a comparison"
    return f"{token.text}(...) must wrap the whole answer, as in {token.text}(n^2 + m)"
