"""`python -m pointy_engine.demo`: parse, check and draw a pipeline, and show a mistake."""

from __future__ import annotations

from .drawing import ascii_graph
from .errors import PointyError
from .graph import build_graph

PIPELINE = "Fetch -> Clean || Enrich |-> Score (0 -> Alert, 1 -> Save) -> Report"
MISTAKE = "Fetch -> Clean || Enrich |-> Scroe (0 -> Alert, 1 -> Save) -> Report"
EVENTS = {"Fetch", "Clean", "Enrich", "Score", "Alert", "Save", "Report"}


def main() -> None:
    graph = build_graph(PIPELINE, known_events=EVENTS)
    print(PIPELINE, end="\n\n")
    print(ascii_graph(graph), end="\n\n")
    print("With a typo:")
    try:
        build_graph(MISTAKE, known_events=EVENTS)
    except PointyError as error:
        print(error)


if __name__ == "__main__":
    main()
