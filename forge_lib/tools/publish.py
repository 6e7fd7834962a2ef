"""Hand-outs, a website and the workshop page made from the course notebooks.

    python -m forge_lib.tools.publish student OUT_DIR   # notebooks for learners, solutions removed
    python -m forge_lib.tools.publish site OUT_DIR      # the course website, teacher and student editions
    python -m forge_lib.tools.publish workshop          # refresh WORKSHOP.md's timing table and agendas

The student edition is made by forge_lib.tools.notebooks (student_edition: each solution becomes
a stub that raises NotImplementedError, exercise outputs are cleared, every other cell is kept).
The site is built by forge_lib.tools.site with Sphinx, myst-nb and sphinx-book-theme from the
executed notebooks (never re-run), as OUT_DIR/teacher/ and OUT_DIR/student/ with
OUT_DIR/index.html linking them; math by a local MathJax 3, nothing fetched.

WORKSHOP.md's table (each notebook's run time, reading time and slot) and its two agendas are
generated here: an agenda is data (AGENDAS: which notebooks, breaks, the focus of each block)
and its start times are the running sum of the notebooks' slots, so it adds up by construction.

Imports go one way: notebooks <- site <- publish (this module is the top, the command line).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from forge_lib.tools import site
from forge_lib.tools.notebooks import (
    EXERCISE_TAG,
    NOTEBOOK_DIR,
    ROOT,
    SOLUTION_TAG,
    exercise_count,
    notebook_paths,
    notebook_title,
    reading_minutes,
    recorded_run_time,
    replace_between,
    run_time_text,
    student_edition,
    write_student_edition,
)

# The notebook helpers are re-exported for callers that know them here (nbtools, the tests);
# their home is forge_lib.tools.notebooks.
__all__ = ["ROOT", "NOTEBOOK_DIR", "SOLUTION_TAG", "EXERCISE_TAG", "notebook_paths",
           "notebook_title", "recorded_run_time", "run_time_text", "replace_between",
           "student_edition", "write_student_edition", "reading_minutes", "workshop_slot",
           "build_site", "workshop_table", "write_workshop_table", "AGENDAS", "Block", "Agenda",
           "agenda_markdown", "agendas_markdown", "agenda_minutes"]

WORKSHOP = ROOT / "WORKSHOP.md"
TABLE_START, TABLE_END = "<!-- workshop:start -->", "<!-- workshop:end -->"
AGENDA_START, AGENDA_END = "<!-- agendas:start -->", "<!-- agendas:end -->"


# --- The workshop table ------------------------------------------------------------------------

MINUTES_PER_EXERCISE = 5
SLOT_STEP_MINUTES = 5  # slots are whole 5-minute steps: an agenda reads in round times


def workshop_slot(nb: nbformat.NotebookNode) -> int:
    """Minutes to plan for a notebook in a workshop: reading, 5 an exercise and the run time,
    rounded up to 5 minutes.

    >>> workshop_slot(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("word " * 360)]))
    5
    """
    seconds = recorded_run_time(nb) or 0
    minutes = reading_minutes(nb) + MINUTES_PER_EXERCISE * exercise_count(nb) + seconds / 60
    return SLOT_STEP_MINUTES * math.ceil(minutes / SLOT_STEP_MINUTES)


def workshop_table(notebooks: list[Path] | None = None) -> str:
    """WORKSHOP.md's table: run time (measured, from the notebook's metadata), reading time
    (estimated by reading_minutes), exercises and the slot to plan (workshop_slot).

    >>> workshop_table().splitlines()[0]
    '| # | notebook | run time | reading time | exercises | slot |'
    """
    rows = ["| # | notebook | run time | reading time | exercises | slot |",
            "|---|---|---|---|---|---|"]
    for path in notebook_paths() if notebooks is None else notebooks:
        nb = nbformat.read(path, as_version=4)
        rows.append(f"| {path.name[:2]} | [{notebook_title(nb)}](notebooks/{path.name}) | "
                    f"{run_time_text(nb)} | "
                    f"{reading_minutes(nb)} min | {exercise_count(nb)} | {workshop_slot(nb)} min |")
    return "\n".join(rows)


# --- The agendas -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """One row of an agenda: notebooks (two-digit numbers, their slots summed) or a pause of
    `minutes`. `instead` lists alternatives the room may take: (notebooks, how the row names them)."""

    label: str
    focus: str = ""
    notebooks: tuple[str, ...] = ()
    minutes: int = 0
    instead: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True)
class Agenda:
    title: str
    subject: str
    intro: str
    blocks: tuple[Block, ...]


AGENDAS = (
    Agenda("Half-day agenda", "reading a perplexity correctly",
           "For people who train or fine-tune language models and read loss curves. Everything "
           "runs on the\nlaptop CPU; notebook 00 takes the first minutes so that every laptop is "
           "known to work. Start\ntimes add up the slots of the table above (both are generated "
           "from the notebooks).",
           (Block("00 start here", "install check: everyone runs notebook 00 top to bottom", ("00",)),
            Block("01 perplexity from first principles",
                  "perplexity = exp(mean NLL); the floor of the course language", ("01",)),
            Block("02 label shifting", "what logits[:, i] predicts; the unshifted number", ("02",)),
            Block("break", minutes=15),
            Block("03 padding inflation", "ignore_index, and what counting padding does", ("03",)),
            Block("04 reduction", "sums and counts, not means of means", ("04",)),
            Block("wrap-up", "exercises left over are homework in the student edition", minutes=10))),
    Agenda("Full-day agenda", "measuring training end to end", "",
           (Block("00 start here", "install check", ("00",)),
            Block("01 perplexity, 02 label shifting", "the number and its alignment", ("01", "02")),
            Block("break", minutes=15),
            Block("03 padding, 04 reduction", "what a mean divides by", ("03", "04")),
            Block("lunch", minutes=45),
            Block("05 overflow and numerics", "inf, silent underflow, half-precision sums", ("05",)),
            Block("08 memory-bounded evaluation", "memory and time, measured honestly", ("08",),
                  instead=((("06", "07"), "06 and 07 for a profiling audience"),)),
            Block("break", minutes=15),
            Block("16 distributed metrics", "one perplexity from several processes", ("16",)),
            Block("13 image metrics", "beyond text (the audience's choice)", ("13",),
                  instead=((("09",), "09 training curves"),)))),
)


def _slots(notebooks: list[Path] | None = None) -> dict[str, int]:
    """Each notebook's slot in minutes, by its two-digit number."""
    return {p.name[:2]: workshop_slot(nbformat.read(p, as_version=4))
            for p in (notebook_paths() if notebooks is None else notebooks)}


def _block_minutes(block: Block, slots: dict[str, int], notebooks: tuple[str, ...] | None = None) -> int:
    chosen = block.notebooks if notebooks is None else notebooks
    unknown = [n for n in chosen if n not in slots]
    if unknown:
        raise ValueError(f"AGENDAS: the block {block.label!r} names notebooks {unknown}, which are "
                         f"not in the course ({sorted(slots)}).")
    return sum(slots[n] for n in chosen) if chosen else block.minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{rest} min"] * bool(rest or not hours)
    return " ".join(parts)


def agenda_minutes(agenda: Agenda, slots: dict[str, int] | None = None) -> tuple[int, int]:
    """(the whole agenda, its notebooks alone) in minutes, with the first choice of every block.

    >>> total, teaching = agenda_minutes(AGENDAS[0])
    >>> total - teaching  # a 15-minute break and a 10-minute wrap-up
    25
    """
    slots = _slots() if slots is None else slots
    minutes = [(_block_minutes(b, slots), bool(b.notebooks)) for b in agenda.blocks]
    return sum(m for m, _ in minutes), sum(m for m, is_notebook in minutes if is_notebook)


def agenda_markdown(agenda: Agenda, slots: dict[str, int] | None = None) -> str:
    """One agenda as WORKSHOP.md shows it: a heading with its length, the intro, and a table
    whose start times are the running sum of the rows' minutes (a notebook lasts its slot)."""
    slots = _slots() if slots is None else slots
    total, teaching = agenda_minutes(agenda, slots)
    rows = ["| start | notebook | minutes | focus |", "|---|---|---|---|"]
    start, later_ends = 0, []
    for block in agenda.blocks:
        minutes = _block_minutes(block, slots)
        label = block.label
        for notebooks, phrase in block.instead:
            other = _block_minutes(block, slots, notebooks)
            label += f"; or {phrase} ({other} min)"
            later_ends.append(f"{_clock(total + other - minutes)} with {phrase}")
        rows.append(f"| {_clock(start)} | {label} | {minutes} | {block.focus} |".replace("|  |", "| |"))
        start += minutes
    end = "end" + (f" ({'; '.join(later_ends)})" if later_ends else "")
    rows.append(f"| {_clock(start)} | {end} | | |")
    heading = (f"## {agenda.title} ({_duration(total)}, {_duration(teaching)} of it notebooks): "
               f"{agenda.subject}")
    return "\n\n".join(part for part in (heading, agenda.intro, "\n".join(rows)) if part)


def agendas_markdown(notebooks: list[Path] | None = None) -> str:
    """Both agendas, as generated between WORKSHOP.md's agenda markers.

    >>> agendas_markdown().splitlines()[0].startswith("## Half-day agenda (")
    True
    """
    slots = _slots(notebooks)
    return "\n\n".join(agenda_markdown(a, slots) for a in AGENDAS)


def write_workshop_table(path: Path = WORKSHOP) -> list[str]:
    """Replace the timing table and the agendas between WORKSHOP.md's markers with fresh ones.
    Returns one line per agenda with its length, for the command to print."""
    text = replace_between(path.read_text(), TABLE_START, TABLE_END, workshop_table(),
                           where=path.name)
    text = replace_between(text, AGENDA_START, AGENDA_END, agendas_markdown(), where=path.name)
    path.write_text(text)
    slots = _slots()
    return [f"{a.title}: {_duration(agenda_minutes(a, slots)[0])}, "
            f"{_duration(agenda_minutes(a, slots)[1])} of it notebooks" for a in AGENDAS]


# --- The static site ---------------------------------------------------------------------------

def build_site(out_dir: str | Path, notebooks: list[Path] | None = None) -> list[Path]:
    """The course website, both editions (Sphinx + myst-nb): see forge_lib.tools.site.build_site.
    Returns the index pages, out_dir/index.html first."""
    return site.build_site(out_dir, notebooks)


# --- Command line ------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if argv[:1] == ["workshop"] and len(argv) == 1:
        lengths = write_workshop_table()
        print(f"rewrote the table and the agendas in {WORKSHOP.name}: " + "; ".join(lengths))
        return 0
    if len(argv) != 2 or argv[0] not in ("student", "site"):
        print(__doc__, file=sys.stderr)
        return 2
    command, out_dir = argv
    if command == "student":
        written = write_student_edition(out_dir)
        print(f"wrote {len(written)} student notebooks to {out_dir}")
    else:
        landing, *editions = build_site(out_dir)
        print(f"wrote the site to {out_dir}: open {landing} ({len(editions)} editions: "
              f"{', '.join(p.parent.name for p in editions)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
