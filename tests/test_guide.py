"""docs/build-your-own-service.md stays true: each of its Python snippets is taken from the
example it names (`<!-- snippet: examples/... -->` just above the code block), verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "build-your-own-service.md"
BLOCK = re.compile(r"(?:<!-- snippet: (?P<source>\S+) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)```", re.S)


def snippets() -> list[tuple[str | None, str, str]]:
    return [(m["source"], m["lang"], m["code"]) for m in BLOCK.finditer(GUIDE.read_text())]


def test_every_python_snippet_names_the_file_it_comes_from():
    found = snippets()
    assert len([s for s in found if s[1] == "python"]) >= 8
    untagged = [code.splitlines()[0] for source, lang, code in found if lang == "python" and source is None]
    assert not untagged, f"python snippets without a <!-- snippet: path --> line: {untagged}"


def test_every_snippet_is_in_its_file_verbatim():
    stale = [
        f"{source}: {code.splitlines()[0].strip()}"
        for source, _, code in snippets()
        if source is not None and code not in (ROOT / source).read_text()
    ]
    assert not stale, "snippets no longer in the example (copy them again from the file):\n" + "\n".join(stale)
