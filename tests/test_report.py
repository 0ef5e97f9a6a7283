"""``mcubench report``: the HTML page, the PNGs and the console table, from made-up results.

The page is rendered once per module (about a second) and checked as text, as images, and
in headless Chromium, which decodes every embedded plot and takes a screenshot.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpimg
from rich.console import Console

from mcubench.errors import UsageError
from mcubench.report import add_report_parser, cmd_report, load_entries

from .results_samples import sample_document, sample_result

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# (model label, board) of every result in the two files below, in file order.
EXPECTED_ROWS = [("kws", "qemu-m4"), ("kws", "qemu-m55"), ("<script>", "qemu-m4"),
                 ("vww", "stm32f4"), ("a$b", "qemu-rv32")]
# One latency and one board figure per counter unit (instructions, cycles), the memory
# figure, the by-type figure and one per profiled result (all but vww).
EXPECTED_PNGS = {
    "latency-instructions.png", "latency-cycles.png",
    "boards-latency-instructions.png", "boards-latency-cycles.png", "boards-memory.png",
    "ops-by-type.png", "ops-kws-qemu-m4.png", "ops-kws-qemu-m55.png",
    "ops-script-qemu-m4.png", "ops-a-b-qemu-rv32.png",
}


def write_results(folder: Path) -> list[Path]:
    """Two files: mixed units, a name to escape, a '$' for mathtext, no samples, no flash."""
    vww = sample_result("models/vww.tflite", "stm32f4", median=3_000_000.0, profiled=False)
    vww["counter_unit"] = "cycles"
    vww["provenance"].update(emulated=False, target="hardware", emulator=None)
    vww["firmware"]["flash_bytes"] = None
    odd = sample_result("models/a$b.tflite", "qemu-rv32", median=2_500_000.0,
                        op_counts=tuple(float(c) for c in range(1, 30)))
    del odd["latency"]["samples"]
    first = sample_document(
        sample_result("models/kws.tflite", "qemu-m4"),
        sample_result("models/kws.tflite", "qemu-m55", median=700_000.0, flash=90_000),
        sample_result("<script>.tflite", "qemu-m4", median=40_000_000.0, bit_exact=False),
        vww)
    paths = [folder / "a.json", folder / "b.json"]
    paths[0].write_text(json.dumps(first))
    paths[1].write_text(json.dumps(sample_document(odd)))
    return paths


def run_report(*argv: str | Path) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers())
    args = parser.parse_args(["report", *(str(a) for a in argv)])
    assert args.handler is cmd_report
    out = Console(record=True, width=220)
    code = cmd_report(args, out)
    return code, out.export_text()


@dataclass(frozen=True)
class Rendered:
    html_path: Path
    html: str
    png_dir: Path
    output: str


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    folder = tmp_path_factory.mktemp("report")
    paths = write_results(folder)
    html_path, png_dir = folder / "report.html", folder / "plots"
    code, output = run_report(*paths, "--html", html_path, "--png", png_dir)
    assert code == 0
    return Rendered(html_path, html_path.read_text(encoding="utf-8"), png_dir, output)


class Tables(HTMLParser):
    """Every <table> as rows of cell texts; and every <img> src."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def test_html_is_self_contained(rendered: Rendered) -> None:
    html = rendered.html
    assert re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", html, re.I) is None
    assert "@import" not in html and "url(" not in html
    page = parse(html)
    assert len(page.images) == len(EXPECTED_PNGS)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_html_has_every_result_and_escapes_names(rendered: Rendered) -> None:
    html = rendered.html
    summary = parse(html).tables[0]
    header, rows = summary[0], summary[1:]
    model, board, exact = header.index("model"), header.index("board"), header.index("bit-exact")
    assert [(r[model], r[board]) for r in rows] == EXPECTED_ROWS
    assert [r[exact] for r in rows] == ["yes", "yes", "NO", "yes", "yes"]
    assert "<script" not in html.lower()  # the page has no script, so the name was escaped
    assert "&lt;script&gt;" in html
    # Provenance names each model file in full, and the units are stated.
    assert "models/vww.tflite" in html and "models/a$b.tflite" in html
    assert "counts (instructions)" in html


def check_pngs_are_the_embedded_plots(png_dir: Path, output: str, html: str,
                                      expected: set[str]) -> None:
    """--png wrote exactly ``expected``, printed each path, and they are the page's images."""
    files = {p.name for p in png_dir.iterdir()}
    assert files == expected
    for name in expected:
        assert str(png_dir / name) in output  # printed for the user
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in parse(html).images}
    assert {(png_dir / name).read_bytes() for name in files} == embedded


def check_real_picture(path: Path, min_height: int) -> np.ndarray:
    """A PNG plot 1000 px wide, at least ``min_height`` tall, in colour; its pixels."""
    assert path.stat().st_size > 10_000
    pixels = mpimg.imread(path)
    height, width = pixels.shape[:2]
    assert width == 1000 and height >= min_height
    assert colour_count(pixels) > 20
    return pixels


def test_png_files_are_the_embedded_plots(rendered: Rendered) -> None:
    check_pngs_are_the_embedded_plots(rendered.png_dir, rendered.output, rendered.html,
                                      EXPECTED_PNGS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PNGS))
def test_png_is_a_real_picture(rendered: Rendered, name: str) -> None:
    check_real_picture(rendered.png_dir / name, 150)


def colour_count(pixels: np.ndarray) -> int:
    """Distinct RGB colours in an image read by matplotlib (floats 0..1)."""
    rgb = (pixels[..., :3] * 255).round().astype(np.uint32)
    return len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))


def chromium(*args: str | Path, profile: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={profile}", *(str(a) for a in args)],
        capture_output=True, timeout=60, check=False)


# Run in the browser once the page has loaded: for every <img>, the decoded width, the
# share of opaque pixels (a truncated PNG decodes partly and leaves the rest transparent)
# and how many colours it has.
PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const px = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let opaque = 0;
    const colours = new Set();
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] === 255) opaque++;
      colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
    img.dataset.naturalWidth = img.naturalWidth;
    img.dataset.opaque = (opaque / (px.length / 4)).toFixed(4);
    img.dataset.colours = colours.size;
  }
  document.body.dataset.probed = "yes";
});
</script>"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian chromium)")
def test_page_renders_in_headless_chromium(rendered: Rendered, tmp_path: Path) -> None:
    # The decoded width of every image, as the browser saw it: a probe added to a copy.
    probe = tmp_path / "probe.html"
    probe.write_text(rendered.html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dump = chromium("--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    dom = dump.stdout.decode("utf-8", "replace")
    assert 'data-probed="yes"' in dom, dump.stderr.decode(errors="replace")[-2000:]
    images = [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))
              for tag in re.findall(r"<img [^>]*>", dom)]
    assert len(images) == len(EXPECTED_PNGS)
    for image in images:  # every plot decoded whole, at its full width, in colour
        assert image["natural-width"] == "1000"
        assert image["opaque"] == "1.0000"
        assert int(image["colours"]) > 20

    shot = tmp_path / "page.png"
    run = chromium(f"--screenshot={shot}", "--window-size=1200,2000",
                   rendered.html_path.as_uri(), profile=tmp_path / "profile")
    assert shot.exists(), run.stderr.decode(errors="replace")[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC)
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    assert colour_count(pixels) > 100  # text, tables and plots, not a blank page
    not_white = np.any(pixels < 0.9, axis=2).mean()
    assert not_white > 0.03


def test_console_summary_without_outputs(tmp_path: Path) -> None:
    paths = write_results(tmp_path)
    code, text = run_report(*paths)
    assert code == 0
    for model, board in EXPECTED_ROWS:
        assert re.search(rf"{re.escape(model)}\s*│\s*{board}", text), (model, board)
    assert "cycles" in text and "instructions" in text and "NO" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_same_model_and_board_from_two_files_stay_apart(tmp_path: Path) -> None:
    paths = [tmp_path / "before.json", tmp_path / "after.json"]
    for path, median in zip(paths, (1e6, 1.1e6), strict=True):
        path.write_text(json.dumps(sample_document(sample_result(median=median))))
    entries, _ = load_entries(paths)
    assert [e.label for e in entries] == ["kws @ qemu-m4 (before.json)",
                                          "kws @ qemu-m4 (after.json)"]
    code, _ = run_report(*paths, "--png", tmp_path / "plots")
    assert code == 0
    ops = sorted(p.name for p in (tmp_path / "plots").glob("ops-kws-*.png"))
    assert ops == ["ops-kws-qemu-m4-after-json.png", "ops-kws-qemu-m4-before-json.png"]


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    not_json = folder / "broken.json"
    not_json.write_text('{"schema_version": 1, "results": [')
    no_latency = sample_result()
    del no_latency["latency"]
    invalid = folder / "invalid.json"
    invalid.write_text(json.dumps(sample_document(no_latency)))
    empty = folder / "empty.json"
    empty.write_text(json.dumps({"schema_version": 1, "created": "now", "results": []}))
    log = folder / "run.jsonl"
    log.write_text("{}\n")
    return {
        "missing": (folder / "nope.json", "cannot read results"),
        "not json": (not_json, "is not JSON"),
        "schema": (invalid, "is not an mcubench results file"),
        "empty": (empty, "no results to report"),
        "log": (log, "looks like a latency log"),
    }


@pytest.mark.parametrize("case", ["missing", "not json", "schema", "empty", "log"])
def test_bad_input_is_a_usage_error(tmp_path: Path, case: str) -> None:
    path, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.html"
    with pytest.raises(UsageError, match=message) as info:
        run_report(path, "--html", out)
    assert path.name in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing folder", "a directory", "png on a file",
                                   "the input"])
def test_unwritable_output_is_a_usage_error(tmp_path: Path, where: str) -> None:
    results = write_results(tmp_path)[:1]
    (tmp_path / "file.txt").write_text("x")
    argv: dict[str, tuple[Any, ...]] = {
        "missing folder": ("--html", tmp_path / "no" / "such" / "r.html", "does not exist"),
        "a directory": ("--html", tmp_path, "is a directory"),
        "png on a file": ("--png", tmp_path / "file.txt", "not a directory"),
        "the input": ("--html", results[0], "would be overwritten"),
    }
    option, target, message = argv[where]
    before = results[0].read_bytes()
    with pytest.raises(UsageError, match=message):
        run_report(*results, option, target)
    assert results[0].read_bytes() == before
