"""Report -> CSV: one row per layer, exact integers, for spreadsheets and scripts."""

from __future__ import annotations

import io

from ..analysis.result import Report
from ..errors import shown

CSV_COLUMNS = ("index", "name", "kind", "description", "output", "params", "buffers", "macs", "flops",
               "activations", "activation_bytes", "receptive_field", "notes")


def to_csv(report: Report) -> str:
    """One row per layer, exact integers; no totals row, so the columns sum cleanly. Text shows
    its control characters as ``\\xNN`` (a name from a model file may hold any).

    params, macs, flops and activations are counted under the report's conventions.
    """
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r, f in zip(report.layers, report.fields):
        acts = report.counted_activations(r)
        writer.writerow([shown(cell) if isinstance(cell, str) else cell for cell in [r.index, r.full_name, r.layer.kind, r.layer.describe(), str(r.output),
                         report.counted_params(r), r.buffers, report.work(r, "macs"), report.work(r, "flops"), acts,
                         report.activation_bytes(acts), f.text(), "; ".join(n.text for n in r.notes)]])
    return out.getvalue()
