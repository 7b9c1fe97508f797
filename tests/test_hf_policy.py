import pytest
import torch
from hf_tiny import build_tiny_hf

from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.load import load_generator
from prmkit.models.steps import render
from prmkit.worlds import arithmetic


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    corpus = []
    for p in arithmetic.generate(300, seed=0):
        corpus.append(render(p["prompt"], arithmetic.solve(p["prompt"])))
    return build_tiny_hf(tmp_path_factory.mktemp("hf"), corpus)


def test_hf_policy_generates_with_logprobs(hf_dir):
    from prmkit.models.hf import HFPolicy

    pol = load_generator(str(hf_dir))
    assert isinstance(pol, HFPolicy)
    items = [("Start with 7, then +5, *3.", []), ("Start with 3, then *2.", ["3*2=6"])]
    a = continue_steps(pol, items, SamplingParams(n=2, max_new_tokens=12, seed=3))
    b = continue_steps(pol, items, SamplingParams(n=2, max_new_tokens=12, seed=3))
    assert [[g.text for g in x] for x in a] == [[g.text for g in x] for x in b]
    g = a[1][0]
    assert len(g.token_ids) == len(g.logprobs) > 0
    # The log-probs are the model's own: recompute them with one forward pass.
    prompt_ids = pol.tok(render(*items[1]), return_tensors="pt")["input_ids"]
    seq = torch.cat([prompt_ids, torch.tensor([g.token_ids])], 1)
    with torch.no_grad():
        logp = pol.model(seq).logits.log_softmax(-1)[0, prompt_ids.shape[1] - 1 : -1]
    ref = logp.gather(1, torch.tensor(g.token_ids)[:, None]).squeeze(1)
    torch.testing.assert_close(torch.tensor(g.logprobs), ref, rtol=1e-3, atol=1e-4)


def test_hf_policy_stops_at_step(hf_dir):
    pol = load_generator(str(hf_dir))
    out = continue_steps(
        pol,
        [("Start with 7, then +5.", [])],
        SamplingParams(n=4, max_new_tokens=20, seed=0, stop_at_step=True),
    )
    for g in out[0]:
        assert "\n" not in g.text.rstrip("\n")
        assert len(g.steps) <= 1


def test_tokenizer_folder_is_llama_typed(hf_dir):
    import json

    cfg = json.loads((hf_dir / "config.json").read_text())
    assert cfg["model_type"] == "llama"


def test_hf_stop_at_step_cuts_where_decoding_every_token_would(hf_dir):
    pol = load_generator(str(hf_dir))
    params = SamplingParams(n=8, max_new_tokens=24, seed=1, stop_at_step=True)
    for g in continue_steps(pol, [("Start with 7, then +5, *3.", ["7+5=12"])], params)[0]:
        want = None
        for k in range(1, len(g.token_ids) + 1):  # the old loop: decode after every token
            text = pol.tok.decode(g.token_ids[:k], skip_special_tokens=True)
            body = text.lstrip("\n")
            if "\n" in body:
                want = text[: text.index("\n", len(text) - len(body)) + 1]
                assert k == len(g.token_ids)  # it stopped at the first separator
                break
        if want is None:
            want = pol.tok.decode(g.token_ids, skip_special_tokens=True)
        assert g.text == want
