from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from realtext_curves import read_rows  # noqa: E402


def test_curves_read_the_rows_of_a_results_file(tmp_path):
    row = {"seed": 1, "steps": 200, "f1_05": 0.1, "f1_dev": 0.3, "auroc_step": 0.7}
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"rows": [row]}))
    assert read_rows(str(path)) == [row]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{\n  oops", ":2: not JSON"),
        ('{"rows": [{"seed": 0, "steps": 5}]}', "no 'f1_05'"),
        ('{"other": 1}', "no 'rows'"),
        (
            '{"rows": [{"seed": 0, "steps": 5, "f1_05": 0.1, "f1_dev": 0.2, '
            '"auroc_step": 0.6, "curve": [{"step": 1, "f1_05": 0.0}]}]}',
            "no 'f1_dev'",
        ),
    ],
)
def test_curves_name_a_bad_results_file_and_exit_2(tmp_path, capsys, text, says):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as stop:
        read_rows(str(path))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}" in err and says in err
