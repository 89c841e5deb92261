from devbench.report.html import render_html
from devbench.report.table import render_text
from devbench.results import new_results, summarize


def data_with(target_name="phone", model="Pixel"):
    d = new_results("r1", "run", {"benchmark": {"scenarios": [{"name": "unpopulated", "pages": 0}]}}, "c.yaml")
    d["targets"].append({"name": target_name, "transport": "adb", "status": "ok", "warnings": ["clocks not locked"],
                         "device_changes": [{"setting": "vm.max_map_count", "before": "65530", "after": "66560", "restored": True}],
                         "facts": {"machine": "aarch64", "kernel_release": "5.10", "android": True, "android_sdk": 33,
                                   "model": model, "cpus": 8, "mem_total_kb": 8000000}})
    d["samples"] = [
        {"target": target_name, "scenario": "unpopulated", "arm": "unnamed", "batch": 0, "fork_ns": [16_360_000]},
        {"target": target_name, "scenario": "unpopulated", "arm": "named", "batch": 0, "fork_ns": [18_350_000]},
    ]
    d["summary"] = summarize(d)
    return d


def test_seed_style_text_table():
    text = render_text(data_with())
    assert "unnamed VMAs" in text and "16.36ms" in text and "18.35ms" in text and "+12.16%" in text


def test_markdown_table():
    md = render_text(data_with(), markdown=True)
    assert "| unpopulated | 16.36ms | 18.35ms | +12.16% |" in md


def test_html_has_table_conditions_and_escapes_device_strings():
    html = render_html(data_with(model='<script>alert("x")</script>'))
    assert "16.36ms" in html and "+12.16%" in html and "clocks not locked" in html
    assert "vm.max_map_count 65530" in html and "(restored)" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
