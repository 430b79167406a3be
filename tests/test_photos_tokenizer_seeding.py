import numpy as np
import pytest
import torch

from course_lib import photos, shapes_world, tokenizer
from course_lib.base import seeding


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "page", "camera"])
def test_photos_load_as_uint8_rgb(name):
    img = photos.load_photo(name)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_unknown_photo_names_the_offline_choices():
    with pytest.raises(ValueError, match="unknown photo 'eagle'; photos available offline: astronaut"):
        photos.load_photo("eagle")
    with pytest.raises(TypeError, match="must be a string"):
        photos.load_photo(3)
    assert "coffee" in photos.list_photos()


def test_tokenizer_special_tokens_and_ids():
    tok = tokenizer.build_tokenizer()
    assert [tok.convert_tokens_to_ids(t) for t in tokenizer.SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert tok.pad_token_id == 0 and tok.eos_token_id == 3 and tok.bos_token_id == 2
    ids = tok("A photo of an Orange circle")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["<bos>", "a", "photo", "of", "an", "orange", "circle", "<eos>"]
    assert tok.convert_ids_to_tokens(tok("<image> <image> what color ?")["input_ids"])[1:3] == ["<image>", "<image>"]


def test_tokenizer_covers_shapes_world_without_unk():
    tok = tokenizer.build_tokenizer()
    s = shapes_world.generate_scenes(200, seed=0, max_objects=3)
    for text in shapes_world.make_captions(s) + [q.question for q in shapes_world.make_vqa(s)]:
        assert tok.unk_token_id not in tok(text)["input_ids"]


def test_tokenizer_round_trips_through_a_local_folder(tmp_path):
    tok = tokenizer.build_tokenizer()
    tokenizer.save_tokenizer(tok, tmp_path / "tok")
    again = tokenizer.load_tokenizer(tmp_path / "tok")
    text = "where is the red circle relative to the blue square ?"
    assert again(text)["input_ids"] == tok(text)["input_ids"]
    assert again.get_vocab() == tok.get_vocab()
    assert again.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


def test_unknown_words_get_a_clear_error(tmp_path):
    tok = tokenizer.build_tokenizer()
    assert tokenizer.unknown_words(tok, "a zebra near a red circle") == ["zebra", "near"]
    with pytest.raises(ValueError, match=r"unknown word\(s\) \['zebra'\]"):
        tokenizer.encode(tok, "a zebra")
    assert tokenizer.encode(tok, "red circle") == [
        2,
        tok.convert_tokens_to_ids("red"),
        tok.convert_tokens_to_ids("circle"),
        3,
    ]
    with pytest.raises(TypeError, match="text must be a string"):
        tokenizer.unknown_words(tok, ["red"])
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        tokenizer.load_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="repeat words"):
        tokenizer.build_tokenizer(extra_words=("red",))


def test_seed_everything_repeats_random_streams_and_sets_threads():
    g1 = seeding.seed_everything(11)
    a = (np.random.rand(), torch.rand(1).item(), g1.random())
    g2 = seeding.seed_everything(11)
    assert (np.random.rand(), torch.rand(1).item(), g2.random()) == a
    assert 1 <= torch.get_num_threads() <= 2  # "auto": the free cores now, at most 2
    seeding.seed_everything(12, threads=1)
    assert torch.get_num_threads() == 1
    seeding.seed_everything(12, threads=2)
    assert torch.get_num_threads() == 2
    seeding.seed_everything(0)


@pytest.mark.parametrize("seed,error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed must be"):
        seeding.seed_everything(seed)
