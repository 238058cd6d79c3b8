"""Write the generated parts of README.md (run by `make docs`; tests/test_docs.py checks them)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from citymesh.cli import settings_classes
from citymesh.runtime.settings import settings_table

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- settings-table:[^\n]*-->\n)(.*?)(<!-- end settings-table -->)", re.DOTALL)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + settings_table(settings_classes()) + "\n" + m.group(3), text)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    README.write_text(render(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
