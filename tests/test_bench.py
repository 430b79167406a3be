import pytest

from course_lib.tools import bench


def test_report_lines_round_trip(capsys):
    bench.report("clip_live", seconds=61.234, seen=0.97, steps=400)
    line = capsys.readouterr().out
    assert line == "[bench] clip_live: seconds=61.23 seen=0.97 steps=400\n"
    assert bench.parse_reports("noise\n" + line + "more") == {
        "clip_live": {"seconds": "61.23", "seen": "0.97", "steps": "400"}
    }


def test_report_rejects_names_that_would_not_parse():
    with pytest.raises(ValueError, match="benchmark name must be"):
        bench.report("two words", x=1)


def test_markdown_table_lists_notebooks_reports_and_models():
    results = [
        {"notebook": "00_start_here.ipynb", "seconds": 10.3, "peak_mb": 500, "error": "", "reports": {"x": {"a": "1"}}}
    ]
    models = [{"name": "tiny_clip", "build_seconds": 100.0, "seen": 0.99, "command": "c", "versions": {},
               "recipe": {"steps": 9}, "losses": [1.0, 0.5, 0.25]}]
    text = bench.markdown(results, models)
    assert "| 00_start_here.ipynb | 10.3 | 500 | ok |" in text
    assert "| 00_start_here.ipynb | x | a=1 |" in text
    assert "| tiny_clip | 100.0 | seen=0.99, losses=(3 values) |" in text
