"""Profiles, pure part: profiler text -> folded stacks -> symbol tables and SVG flame graphs.

folded     -> parse `perf script` / `simpleperf report-sample` text; filter, read, write folded stacks
table      -> top symbols per arm (self, inclusive) and the differential table with z-scores
flamegraph -> flame graph and differential flame graph as inline SVG
"""

from devbench.profile.flamegraph import diff_flamegraph_svg, flamegraph_svg
from devbench.profile.folded import (
                                     FORK_EXIT_FUNCTIONS,
                                     FoldedError,
                                     ParseStats,
                                     Profile,
                                     filter_stacks,
                                     parse_perf_script,
                                     parse_simpleperf_report_sample,
                                     read_folded,
                                     write_folded,
)
from devbench.profile.table import DiffRow, DiffTable, SymbolShare, TopTable, diff_symbols, top_symbols

__all__ = ["FORK_EXIT_FUNCTIONS", "DiffRow", "DiffTable", "FoldedError", "ParseStats", "Profile", "SymbolShare",
           "TopTable", "diff_flamegraph_svg", "diff_symbols", "filter_stacks", "flamegraph_svg",
           "parse_perf_script", "parse_simpleperf_report_sample", "read_folded", "top_symbols", "write_folded"]
