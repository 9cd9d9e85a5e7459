"""Every registered report section, rendered from a real small campaign and the H200 trials.

The contract each section keeps (parametrised over :data:`SECTIONS`): where it applies, it
renders blocks with text in them, and every PNG and CSV it names is a file in the report
folder; where it does not apply, it renders nothing of its own (at most its heading and the
note that says which input is missing) and writes no plot, table or JSON entry.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tunecost.reports import build_report
from tunecost.reports.campaign import simulate_campaign
from tunecost.reports.context import ReportContext, Settings
from tunecost.reports.files import write_files
from tunecost.reports.inputs import gather_inputs
from tunecost.reports.render import Block, Heading, Image, Items, Para, Table
from tunecost.reports.report import render_sections
from tunecost.reports.sections import SECTIONS, Section, render_order, section_blocks

from .conftest import SMALL, STUDY

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclasses.dataclass
class Rendered:
    """What one section added to the context."""

    applies: bool
    blocks: list[Block]
    pngs: list[Path]
    tables: list[str]
    data: list[str]


def _render_each(ctx: ReportContext) -> dict[str, Rendered]:
    """Render every section in the builder's order, recording what each one added."""
    done = {}
    for name in render_order(SECTIONS):
        section = SECTIONS[name]
        before = (list(ctx.pngs), set(ctx.tables), set(ctx.data))
        applies = section.applies(ctx)
        blocks = section_blocks(section, ctx)
        done[name] = Rendered(
            applies, blocks, [p for p in ctx.pngs if p not in before[0]],
            [t for t in ctx.tables if t not in before[1]],
            [k for k in ctx.data if k not in before[2]],
        )
    blocks = [b for name in SECTIONS for b in done[name].blocks]
    write_files(ctx, blocks, final=ctx.out)  # the CSVs the images name
    return done


def _context(out: Path, with_trials: bool) -> ReportContext:
    cfg = out.parent / "small.yaml"
    cfg.write_text(SMALL)
    trials: dict[str, Any] = (
        {"records": STUDY / "data" / "calib_random.jsonl",
         "repeats": STUDY / "data" / "repeats.jsonl"} if with_trials else {}
    )
    inputs = gather_inputs(cfg, out, **trials)
    ctx = ReportContext(out, inputs, settings=Settings(sensitivity_replicates=4, sobol_n=4,
                                                       n_boot=50))
    assert inputs.campaign is not None
    ctx.run = simulate_campaign(inputs.campaign, replicates=None, seed=inputs.seed,
                                engine="auto", tick=ctx.tick)
    return ctx


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportContext, dict[str, Rendered]]:
    """A campaign with measured trials and repeated configurations: every section applies."""
    out = tmp_path_factory.mktemp("full") / "rep"
    out.mkdir()
    ctx = _context(out, with_trials=True)
    return ctx, _render_each(ctx)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportContext, dict[str, Rendered]]:
    """A campaign alone: the sections of measured trials do not apply."""
    out = tmp_path_factory.mktemp("bare") / "rep"
    out.mkdir()
    ctx = _context(out, with_trials=False)
    return ctx, _render_each(ctx)


def _check_blocks(name: str, got: Rendered, out: Path) -> None:
    """The contract of a section that applies: its title, then blocks with text in them,
    and every PNG and CSV it names a file in ``out``."""
    assert got.blocks, f"{name} rendered nothing"
    section = SECTIONS[name]
    if section.title is not None:
        assert got.blocks[0] == Heading(section.title, section.level)
    for block in got.blocks:
        if isinstance(block, Heading | Para):
            assert block.text.strip(), block
        elif isinstance(block, Items):
            assert block.items and all(i.strip() for i in block.items), block
        elif isinstance(block, Table):
            assert any(c.strip() for c in block.columns) and block.rows, block
            assert all(len(r) == len(block.columns) for r in block.rows), block
            assert all(any(c.strip() for c in r) for r in block.rows), block
        else:
            assert isinstance(block, Image) and block.alt.strip()
            data = block.path.read_bytes()
            assert block.path.parent == out and data.startswith(PNG_SIGNATURE)
            assert len(data) > 1000
            assert block.csv, f"{block.path.name}: no data file behind the plot"
            for csv in block.csv:
                lines = (out / csv).read_text().splitlines()
                assert len(lines) >= 2, csv  # a header and at least one row
    # The plots a section wrote are the ones its blocks show, and nothing else.
    assert got.pngs == [b.path for b in got.blocks if isinstance(b, Image)]


def test_every_section_applies_to_the_full_context(full) -> None:
    _, rendered = full
    assert [n for n, r in rendered.items() if not r.applies] == []


@pytest.mark.parametrize("name", list(SECTIONS))
def test_a_section_renders_text_and_files_that_exist(name: str, full) -> None:
    ctx, rendered = full
    _check_blocks(name, rendered[name], ctx.out)


@pytest.mark.parametrize("name", list(SECTIONS))
def test_a_section_that_does_not_apply_renders_nothing(name: str, bare) -> None:
    ctx, rendered = bare
    got = rendered[name]
    if got.applies:  # the same contract as with every input
        _check_blocks(name, got, ctx.out)
        return
    section: Section = SECTIONS[name]
    why = section.unavailable(ctx)
    expected = [] if why is None else [Heading(section.title or "", section.level),
                                       Para(why, "note")]
    assert got.blocks == expected
    assert (got.pngs, got.tables, got.data) == ([], [], [])


def test_each_table_is_written_once_as_its_csv(full) -> None:
    ctx, rendered = full
    tables = [t for r in rendered.values() for t in r.tables]
    assert len(tables) == len(set(tables)) == len(ctx.tables)
    for name in tables:
        assert (ctx.out / f"{name}.csv").is_file()


def test_the_sections_of_measured_trials_do_not_apply_to_a_campaign_alone(bare) -> None:
    _, rendered = bare
    assert [n for n, r in rendered.items() if not r.applies] == [
        "importance", "marginals", "seed_variance", "expected_best"]


def test_the_summary_renders_after_the_analyses_it_sums_up() -> None:
    order = render_order(SECTIONS)
    for needed in SECTIONS["answer"].needs:
        assert order.index(needed) < order.index("answer")
    # Laid out in the registry's order all the same: the answer right below the totals.
    assert list(SECTIONS)[:2] == ["totals", "answer"]


def test_sections_that_wait_on_each_other_are_refused() -> None:
    def waits(*needs: str) -> Section:
        return type("Waits", (Section,), {"needs": needs, "render": lambda self, ctx: []})()

    with pytest.raises(ValueError, match=r"\['a', 'b'\] wait on each other"):
        render_order({"a": waits("b"), "b": waits("a")})
    with pytest.raises(ValueError, match="not in the registry"):
        render_order({"a": waits("missing")})


def test_the_report_is_laid_out_in_the_registrys_order(full) -> None:
    ctx, rendered = full
    fresh = dataclasses.replace(ctx, tables={}, pngs=[], data={})
    blocks = render_sections(fresh, {"sources": SECTIONS["sources"],
                                     "totals": SECTIONS["totals"]})
    assert blocks == rendered["sources"].blocks + rendered["totals"].blocks


def test_a_registered_section_is_in_the_report(monkeypatch, tmp_path: Path) -> None:
    class Epilogue(Section):
        title = "Epilogue"

        def applies(self, ctx: ReportContext) -> bool:
            return ctx.findings.breakdown is not None

        def render(self, ctx: ReportContext) -> list[Block]:
            return [Para(f"{len(ctx.pngs)} plots above.")]

    monkeypatch.setitem(SECTIONS, "epilogue", Epilogue())
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL)
    files = build_report(cfg, out=tmp_path / "rep", sensitivity_replicates=4, sobol_n=4,
                         n_boot=50)
    md = files.markdown.read_text()
    assert md.rstrip().endswith(f"## Epilogue\n\n{len(files.pngs)} plots above.")
