"""The provider-option tables of docs/config.md, rendered from the adapters' models.

``python -m spfmanager.config.reference docs/config.md`` rewrites the tables between the
markers; a test checks that the committed document is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from spfmanager.config.options import annotation_members, declared_options
from spfmanager.providers.registry import BUILTIN

BEGIN = "<!-- provider options: generated from the adapters' Options models -->"
END = "<!-- end of provider options -->"
_TYPE_NAMES = {SecretStr: "credential", str: "string", int: "integer", float: "number"}
_BOUNDS = (("Gt", ">"), ("Ge", "≥"), ("Lt", "<"), ("Le", "≤"))


def _type_name(info: FieldInfo) -> str:
    members, _ = annotation_members(info.annotation)
    text = " or ".join(
        "boolean" if m is bool else _TYPE_NAMES.get(m, getattr(m, "__name__", str(m)))
        for m in members
    )
    bounds = {type(m).__name__: getattr(m, type(m).__name__.lower(), None) for m in info.metadata}
    if "Ge" in bounds and "Le" in bounds:
        return f"{text}, {bounds['Ge']} – {bounds['Le']}"
    for name, sign in _BOUNDS:
        if name in bounds:
            text += f", {sign} {bounds[name]}"
    return text


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def options_reference() -> str:
    """Markdown: one table per built-in kind (option, type, default, meaning)."""
    parts: list[str] = []
    for kind in BUILTIN:
        model = declared_options(kind)
        if model is None:
            continue
        rows = [
            f"| `{name}` | {_type_name(info)} | {_default(info)} | {info.description or ''} |"
            for name, info in model.model_fields.items()
        ]
        header = ["| option | type | default | meaning |", "| --- | --- | --- | --- |"]
        parts.append("\n".join([f"`kind: {kind}`", "", *header, *rows]))
    return "\n\n".join(parts) + "\n"


def replace_reference(text: str) -> str:
    """``text`` (docs/config.md) with freshly generated tables between the markers."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n\n{options_reference()}\n{text[end:]}"


def main(argv: list[str]) -> int:
    """Rewrite the tables of each Markdown file named in ``argv``."""
    for name in argv:
        path = Path(name)
        path.write_text(replace_reference(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
