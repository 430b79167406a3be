"""The tiny causal LM: config, corpus, batches, a short training run, the shipped checkpoint."""

import pytest
from transformers import LlamaForCausalLM

from course_lib.models import causal_lm
from course_lib.recipes import SEEDS
from course_lib.shapes_world import COUNT_WORDS, generate_scenes, make_descriptions, make_vqa
from course_lib.tokenizer import build_tokenizer
from course_lib.tools.checkpoints import load_metrics, reading_metrics


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def test_config_is_tiny_gqa_llama(tok):
    config = causal_lm.tiny_lm_config(tok)
    assert config.vocab_size == len(tok) and config.num_key_value_heads < config.num_attention_heads
    assert config.eos_token_id == tok.eos_token_id
    with pytest.raises(ValueError, match="divisible|heads"):
        causal_lm.tiny_lm_config(tok, hidden_size=100, heads=3)
    with pytest.raises(ValueError, match="kv_heads"):
        causal_lm.tiny_lm_config(tok, heads=4, kv_heads=8)


def test_corpus_is_seeded_and_in_vocabulary(tok):
    a, b = causal_lm.text_corpus(200, seed=3), causal_lm.text_corpus(200, seed=3)
    assert a == b and a != causal_lm.text_corpus(200, seed=4)
    assert any(t.endswith((" yes", " no")) for t in a) and any(t.startswith(("a ", "an ")) for t in a)
    batch = causal_lm.text_batch(tok, a)  # raises on any unknown word
    assert ((batch["labels"] == -100) == (batch["attention_mask"] == 0)).all()
    with pytest.raises(ValueError, match="unknown word"):
        causal_lm.text_batch(tok, ["a photo of a zebra"])


def test_context_share_puts_the_caption_before_its_question(tok):
    plain = causal_lm.text_corpus(300, seed=5)
    ctx = causal_lm.text_corpus(300, seed=5, context_share=1.0)
    assert len(plain) == len(ctx) and causal_lm.text_corpus(300, seed=5, context_share=0.0) == plain
    with_context = [(p, c) for p, c in zip(plain, ctx) if p != c]
    assert with_context and all(c.endswith(p) and len(c) > len(p) for p, c in with_context)
    assert all("?" not in c for p, c in zip(plain, ctx) if "?" not in p)  # captions alone stay alone
    causal_lm.text_batch(tok, ctx)  # in vocabulary
    with pytest.raises(ValueError, match="context_share must be in"):
        causal_lm.text_corpus(10, seed=5, context_share=1.5)
    model = causal_lm.build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1)
    with pytest.raises(ValueError, match="context_share"):
        causal_lm.pretrain_lm(model, tok, steps=1, context_share=-0.1, progress=False)


def test_short_pretraining_lowers_the_loss(tok):
    model = causal_lm.build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1)
    result = causal_lm.pretrain_lm(model, tok, steps=30, batch_size=16, lr=1e-2, progress=False)
    assert sum(result.losses[-5:]) / 5 < result.losses[0] - 1.0


def test_shipped_tiny_lm_knows_the_formats():
    model, tok = causal_lm.load_tiny_lm()
    assert isinstance(model, LlamaForCausalLM)
    assert causal_lm.perplexity(model, tok, causal_lm.text_corpus(256, SEEDS.lm_held_out)) < 3.0
    assert causal_lm.complete(model, tok, "how many objects are there ?") in COUNT_WORDS
    assert causal_lm.complete(model, tok, "is there a red circle ?") in ("yes", "no")
    metrics = load_metrics("tiny_lm")
    assert (
        metrics["command"] == "python -m course_lib.tools.checkpoints tiny_lm" and metrics["held_out_perplexity"] < 3.0
    )


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        causal_lm.load_tiny_lm(tmp_path)


def test_reading_corpus_asks_after_a_true_description(tok):
    prompts, answers = causal_lm.reading_corpus(200, seed=3)
    assert (prompts, answers) == causal_lm.reading_corpus(200, seed=3) and len(prompts) == len(answers) == 200
    scenes = generate_scenes(200, seed=3, min_objects=1, max_objects=3, split="all")
    descriptions = make_descriptions(scenes, seed=3)
    pairs = {(f"{descriptions[q.scene]} {q.question}", q.answer) for q in make_vqa(scenes, seed=3)}
    assert all(pair in pairs for pair in zip(prompts, answers))
    batch = causal_lm.answer_batch(tok, prompts[:4], answers[:4])  # in vocabulary
    for row in range(4):  # labelled: exactly the answer's tokens and <eos>
        labelled = batch["labels"][row][batch["labels"][row] != -100].tolist()
        assert tok.decode(labelled, skip_special_tokens=True).strip() == answers[row]
        assert labelled[-1] == tok.eos_token_id
    with pytest.raises(ValueError, match="prompts and answers must pair up"):
        causal_lm.answer_batch(tok, prompts[:2], answers[:3])


def test_short_reading_training_lowers_the_answer_loss(tok):
    model = causal_lm.build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1)
    result = causal_lm.train_reader(model, tok, steps=30, batch_size=16, lr=1e-2, progress=False)
    assert sum(result.losses[-5:]) / 5 < result.losses[0] - 1.0
    with pytest.raises(TypeError, match="model"):
        causal_lm.train_reader(object(), tok, steps=1, progress=False)


def test_shipped_reader_reproduces_its_metrics_and_reads():
    metrics = load_metrics("tiny_lm_reader")
    model, tok = causal_lm.load_reader_lm()
    reading = reading_metrics(model, tok)
    assert reading == metrics["reading"]
    # it answers from the description, and the notebook-05 LM does not (section 7 of notebook 06)
    for kind in ("color", "shape", "position"):
        assert reading["description"][kind] > 0.5 > metrics["tiny_lm_reading"]["description"][kind]
