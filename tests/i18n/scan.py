"""Static scans for user-facing text that is not marked for translation.

Two scans, used by ``test_catalog.py``:

- :func:`unmarked_python_strings`: string literals (or f-strings) handed, unwrapped, to the
  places whose text reaches a user: ``messages.<level>(request, ...)``, the exceptions whose
  message becomes a page or an API answer (``ValidationError``, ``PermissionDenied``,
  ``Http404``, DRF's ``NotFound``…), ``{"detail": ...}`` bodies of ``Response``/
  ``JsonResponse``, and the ``label``/``help_text``/``verbose_name`` of fields and models,
  plus the labels of ``TextChoices``/``IntegerChoices`` members.
- :func:`bare_template_text`: text nodes of the HTML templates that hold letters outside
  ``{% translate %}``/``{% blocktranslate %}`` (and outside variables and tags).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
#: The code that talks to users. ``inference/ncls`` and ``inference/phantom`` are libraries and
#: command-line tools (no Django, no user pages); migrations only replay history.
PYTHON_ROOTS = ("trials", "readers", "inference", "analysis", "config", "preferences")
PYTHON_SKIP = ("migrations", "inference/ncls", "inference/phantom", "management")

MARKERS = {
    "_",
    "gettext",
    "gettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "npgettext",
    "npgettext_lazy",
    "format_lazy",
}
EXCEPTIONS = {
    "ValidationError",
    "PermissionDenied",
    "Http404",
    "NotFound",
    "ParseError",
    "AuthenticationFailed",
    "NotAuthenticated",
    "MethodNotAllowed",
    "APIException",
}
MESSAGE_LEVELS = {"success", "error", "info", "warning", "debug", "add_message"}
TEXT_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural"}
RESPONSES = {"Response", "JsonResponse"}
CHOICES_BASES = {"TextChoices", "IntegerChoices", "Choices"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_text(node: ast.AST | None) -> bool:
    """A literal with letters (or an f-string): text a person reads."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{2,}", node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_is_text(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _is_text(node.left)
    if isinstance(node, ast.Dict):
        return any(_is_text(v) for v in node.values)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_is_text(v) for v in node.elts)
    return False


def _python_files() -> Iterator[Path]:
    for top in PYTHON_ROOTS:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(f"/{skip}/" in f"/{rel}" or rel.startswith(skip) for skip in PYTHON_SKIP):
                yield path


def unmarked_python_strings() -> list[str]:
    """``path:line: text`` for each user-facing literal not wrapped in a gettext call."""
    found: list[str] = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.relative_to(ROOT).as_posix()

        def flag(node: ast.expr, rel: str = rel) -> None:
            found.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:90]}")

        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                _name(b) in CHOICES_BASES for b in node.bases
            ):
                for item in node.body:
                    if (
                        isinstance(item, ast.Assign)
                        and isinstance(item.value, ast.Tuple)
                        and len(item.value.elts) >= 2
                        and _is_text(item.value.elts[-1])
                    ):
                        flag(item.value.elts[-1])
            if not isinstance(node, ast.Call):
                continue
            func = _name(node.func)
            if func in MARKERS:
                continue
            if func in EXCEPTIONS and node.args and _is_text(node.args[0]):
                flag(node.args[0])
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in MESSAGE_LEVELS
                and _name(node.func.value) == "messages"
            ):
                for arg in node.args[1:2] if node.func.attr != "add_message" else node.args[2:3]:
                    if _is_text(arg):
                        flag(arg)
            if func in RESPONSES and node.args and isinstance(node.args[0], ast.Dict):
                for key, value in zip(node.args[0].keys, node.args[0].values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "detail" and _is_text(value):
                        flag(value)
            for keyword in node.keywords:
                if keyword.arg in TEXT_KEYWORDS and _is_text(keyword.value):
                    flag(keyword.value)
    return found


# ---- templates ----

TAG = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.S)
TRANS_BLOCK = re.compile(
    r"{%\s*(?:blocktrans|blocktranslate)\b.*?{%\s*(?:endblocktrans|endblocktranslate)\s*%}", re.S
)
#: Text that is the same in every language: the product's name, units, format names, symbols.
TEMPLATE_ALLOWED = {
    "Fontanelle",  # the product's name, as in the paper's acknowledgements: never translated
    "Papile",
    "Volpe",  # the grading systems' names, kept in Chinese too ("Papile 分级")
    "CSV",
    "XLSX",
    "JSON",
    "ZIP",
    "HTML",
    "API",
    "SHA-256",
    "AUC",
    "ROC",
    "MRMC",  # formats, acronyms
    "fps",
    "px",
    "mm",
    "ms",
    "Esc",
    "Space",
    "Enter",  # units; key names as printed on keyboards
}


class _TextNodes(HTMLParser):
    """Collects text nodes (and the user-visible attributes) outside <script>/<style>."""

    VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "value"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if (
                name in self.VISIBLE_ATTRIBUTES
                and value
                and not (tag == "input" and name == "value")
            ):
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


_ALLOWED = re.compile(
    r"(?<![A-Za-z])(?:"
    + "|".join(re.escape(t) for t in sorted(TEMPLATE_ALLOWED, key=len, reverse=True))
    + r")(?![A-Za-z])"
)


def _words(text: str) -> list[str]:
    """Words of two letters or more (a single letter is a key name, a unit or a symbol),
    the allow-list taken out first."""
    return re.findall(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]", _ALLOWED.sub(" ", text))


def bare_template_text(template_dir: Path | None = None) -> list[str]:
    """``template: text`` for each text node with words outside the translation tags."""
    template_dir = template_dir or ROOT / "templates"
    found: list[str] = []
    for path in sorted(template_dir.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        # Translated blocks and every tag/variable become a neutral placeholder.
        stripped = TRANS_BLOCK.sub(" ", source)
        stripped = TAG.sub(" ", stripped)
        parser = _TextNodes()
        parser.feed(stripped)
        parser.close()
        for text in parser.texts:
            if _words(text):
                found.append(
                    f"{path.relative_to(template_dir).as_posix()}: {' '.join(text.split())[:80]}"
                )
    return found
