"""Tokens: the scanner of student text, with the character whitelist and the variable names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from grader.checks.expressions.limits import MAX_DECIMALS, MAX_EXPONENT, MAX_LITERAL, ParseError

_DIGITS = "0123456789"
WHITESPACE = " \t\r\n\u00a0"
_SUPERSCRIPT_DIGITS = {
    "⁰": 0, "¹": 1, "²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9,
}
_SUPERSCRIPT_SIGNS = {"⁻": -1, "⁺": 1}
_SINGLE_CHAR_TOKENS = {
    "+": ("op", "+"), "-": ("op", "-"), "−": ("op", "-"),
    "*": ("op", "*"), "·": ("op", "*"), "⋅": ("op", "*"), "×": ("op", "*"),
    "/": ("op", "/"), "^": ("op", "^"),
    "(": ("(", "("), ")": (")", ")"),
    ">": ("cmp", ">"), "<": ("cmp", "<"), "≥": ("cmp", ">="), "≤": ("cmp", "<="),
    "=": ("cmp", "="),
}
_TWO_CHAR_TOKENS = {
    "**": ("op", "^"), ">=": ("cmp", ">="), "<=": ("cmp", "<="), "==": ("cmp", "="),
}
# Orders of growth a big-O field accepts: O, and Θ and Ω (a bound from both sides or from
# below); each written as a letter, a word or a LaTeX command. All are read alike: the dominant
# terms inside decide.
ORDER_WORDS = {"O": "O", "Theta": "Θ", "Omega": "Ω"}
_ORDER_CHARS = {"Θ": "Θ", "ϴ": "Θ", "Ω": "Ω", "\u2126": "Ω"}  # U+2126 is the ohm sign, a look-alike of Ω
_CHAR_HINTS = {
    "[": "use ( ) for grouping", "]": "use ( ) for grouping",
    "{": "use ( ) for grouping", "}": "use ( ) for grouping",
    ",": "write numbers without commas",
    "θ": "big-Theta is a capital: Θ(...) or Theta(...)",
    "ω": "little-omega is not accepted; for a bound from below write Ω(...) or Omega(...)",
}


@dataclass(frozen=True)
class Token:
    """One token: its kind, its normalised text, its 1-based position, and a number's value."""

    kind: str  # num var op sup ( ) O cmp end
    text: str
    pos: int
    value: Fraction = Fraction(0)


def _show_char(ch: str) -> str:
    """A character as a student can recognise it, even when it is invisible or a look-alike."""
    if ch.isascii() and ch.isprintable():
        return f"'{ch}'"
    if ch.isprintable():
        return f"'{ch}' (U+{ord(ch):04X})"
    return f"U+{ord(ch):04X}"


def variable_names(variables: frozenset[str]) -> str:
    """'m and n' for the feedback."""
    names = sorted(variables)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def check_variables(variables: Iterable[str]) -> frozenset[str]:
    """The variable set, validated: single ASCII letters, since `mn` means m*n."""
    result = frozenset(variables)
    if not result:
        raise ValueError("at least one variable is needed")
    for name in result:
        if len(name) != 1 or not (name.isascii() and name.isalpha()) or name == "O":
            raise ValueError(f"variables must be single ASCII letters other than O, got {name!r}")
    return result


def _read_number(text: str, start: int) -> tuple[Token, int]:
    """The number literal starting at `start`, bounded before it is converted to an int."""
    pos = start + 1
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    whole = text[start:end]
    fraction_digits = ""
    if end < len(text) and text[end] == ".":
        after = end + 1
        while after < len(text) and text[after] in _DIGITS:
            after += 1
        fraction_digits = text[end + 1 : after]
        if not fraction_digits:
            raise ParseError(f"a digit must follow the '.' at position {end + 1}")
        end = after
    # Length checks first, so that int() never sees a long digit string.
    if len(whole.lstrip("0")) > len(str(MAX_LITERAL)) or int(whole) > MAX_LITERAL:
        raise ParseError(f"the number at position {pos} is too large (at most 10^12)")
    if len(fraction_digits) > MAX_DECIMALS:
        raise ParseError(
            f"the number at position {pos} has too many decimal places (at most {MAX_DECIMALS})"
        )
    scale = 10 ** len(fraction_digits)
    value = Fraction(int(whole) * scale + int(fraction_digits or "0"), scale)
    return Token("num", text[start:end], pos, value), end


def _read_superscript(text: str, start: int) -> tuple[Token, int]:
    """A superscript exponent such as ² or ⁻¹, read as a whole number."""
    pos = start + 1
    end = start
    sign = 1
    if text[end] in _SUPERSCRIPT_SIGNS:
        sign = _SUPERSCRIPT_SIGNS[text[end]]
        end += 1
    digits_start = end
    while end < len(text) and text[end] in _SUPERSCRIPT_DIGITS:
        end += 1
    digits = text[digits_start:end]
    if not digits:
        raise ParseError(f"a superscript sign at position {pos} must be followed by digits")
    if len(digits.lstrip("⁰")) > 2:
        raise ParseError(
            f"the exponent at position {pos} is too large (at most {MAX_EXPONENT})"
        )
    value = 0
    for ch in digits:
        value = 10 * value + _SUPERSCRIPT_DIGITS[ch]
    return Token("sup", text[start:end], pos, Fraction(sign * value)), end


def _read_word(text: str, start: int, variables: frozenset[str]) -> tuple[list[Token], int]:
    """A run of ASCII letters: variables (each letter separate, `mn` = m*n) or `O`."""
    end = start
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    word = text[start:end]
    if word in ORDER_WORDS:
        return [Token("O", ORDER_WORDS[word], start + 1)], end
    if all(letter in variables for letter in word):
        return [Token("var", letter, start + 1 + i) for i, letter in enumerate(word)], end
    shown = word if len(word) <= 20 else word[:20] + "..."
    message = (
        f"unknown name '{shown}' at position {start + 1}; "
        f"the only variables are {variable_names(variables)}"
    )
    if word in ("x", "X"):
        message += " (for multiplication write * or ×)"
    elif word == "o":
        message += " (big-O is written with a capital O)"
    elif word.capitalize() in ORDER_WORDS:
        message += f" (write {word.capitalize()}, with a capital)"
    raise ParseError(message)


def _latex_order(text: str, start: int) -> str:
    """`Theta` or `Omega` if a LaTeX command of that name starts at `start` (after a backslash), else ''."""
    end = start
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    word = text[start:end]
    return word if word in ("Theta", "Omega") else ""


def tokenize(text: str, variables: frozenset[str]) -> list[Token]:
    """The tokens of `text`, ending with an `end` token; any character off the whitelist fails."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in WHITESPACE:
            i += 1
        elif ch in _DIGITS:
            token, i = _read_number(text, i)
            tokens.append(token)
        elif ch in _SUPERSCRIPT_DIGITS or ch in _SUPERSCRIPT_SIGNS:
            token, i = _read_superscript(text, i)
            tokens.append(token)
        elif ch.isascii() and ch.isalpha():
            words, i = _read_word(text, i, variables)
            tokens.extend(words)
        elif ch in _ORDER_CHARS:
            tokens.append(Token("O", _ORDER_CHARS[ch], i + 1))
            i += 1
        elif ch == "\\" and _latex_order(text, i + 1):
            word = _latex_order(text, i + 1)
            tokens.append(Token("O", ORDER_WORDS[word], i + 1))
            i += 1 + len(word)
        elif text[i : i + 2] in ("=>", "=<"):
            swapped = text[i + 1] + "="
            raise ParseError(f"write {swapped} instead of {text[i : i + 2]} at position {i + 1}")
        elif text[i : i + 2] in _TWO_CHAR_TOKENS:
            kind, normal = _TWO_CHAR_TOKENS[text[i : i + 2]]
            tokens.append(Token(kind, normal, i + 1))
            i += 2
        elif ch in _SINGLE_CHAR_TOKENS:
            kind, normal = _SINGLE_CHAR_TOKENS[ch]
            tokens.append(Token(kind, normal, i + 1))
            i += 1
        elif ch == ".":
            raise ParseError(f"unexpected '.' at position {i + 1}; write numbers like 0.5")
        else:
            message = f"unexpected character {_show_char(ch)} at position {i + 1}"
            if ch in _CHAR_HINTS:
                message += f"; {_CHAR_HINTS[ch]}"
            elif ch.isdigit():  # fullwidth, Arabic-Indic, ... digits
                message += "; use the digits 0-9"
            raise ParseError(message)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens
