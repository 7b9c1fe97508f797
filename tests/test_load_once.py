"""Opening a checkpoint reads its config.json once."""

import json
from pathlib import Path

from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.load import load_generator
from prmkit.prm.models import BuiltinStepModel
from prmkit.prm.scoring import load_prm

TINY = GPTConfig(block_size=64, n_layer=1, n_head=1, d_model=8)


def count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = Path.read_text

    def spy(self, *a, **k):
        if self.name == "config.json":
            reads.append(str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", spy)
    return reads


def test_a_policy_and_a_prm_read_their_config_once(tmp_path, monkeypatch):
    BuiltinPolicy.new(TINY).save(tmp_path / "policy")
    BuiltinStepModel.new(TINY).save(tmp_path / "prm")
    assert json.loads((tmp_path / "prm" / "config.json").read_text())["kind"] == "prm"
    reads = count_reads(monkeypatch)
    load_generator(str(tmp_path / "policy"))
    assert len(reads) == 1
    reads.clear()
    load_prm(str(tmp_path / "prm"))
    assert reads == [str(tmp_path / "prm" / "config.json")]
