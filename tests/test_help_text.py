"""`%%pointy?` reads as plain text."""

from __future__ import annotations

from pointy_jupyter.magics import PointyMagics


def test_the_cell_magic_help_reads_plainly() -> None:
    help_text = PointyMagics.pointy.__doc__
    assert help_text.startswith("%%pointy [-o NAME]")
    assert "::" not in help_text
    assert "{inline,thread,process}" not in help_text
    assert "--executor NAME" in help_text
    assert "run every event on this executor: one of inline, thread, process" in " ".join(
        help_text.split()
    )
