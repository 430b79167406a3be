"""A word-level tokenizer over the Shapes World vocabulary, as a real Hugging Face tokenizer.

Taught in notebook 00, section 3 ("The course tokenizer"); every tiny model reads text through it.
"""

from __future__ import annotations

import re
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .base.validation import describe, require_folder, require_str, require_str_list, require_tokenizer
from .shapes_world import vocabulary

PAD, UNK, BOS, EOS, IMAGE = "<pad>", "<unk>", "<bos>", "<eos>", "<image>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS, IMAGE)  # ids 0..4; eos is not id 2 (see CLIP pooling)
MAX_LENGTH = 64


def build_tokenizer(extra_words: tuple[str, ...] = ()) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: lowercases, splits on whitespace and punctuation, adds <bos> ... <eos>.

    Ids: the special tokens first, then the sorted Shapes World words, then `extra_words`.
    """
    extra_words = require_str_list("extra_words", extra_words, allow_empty=True)
    words = [w for w in vocabulary() + list(extra_words) if w not in SPECIAL_TOKENS]
    if len(set(words)) != len(words):
        repeated = sorted(set(extra_words) & set(vocabulary()))
        raise ValueError(f"extra_words repeat words already in the vocabulary: {repeated}")
    vocab = {tok: i for i, tok in enumerate(list(SPECIAL_TOKENS) + words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        extra_special_tokens={"image_token": IMAGE},
        model_max_length=MAX_LENGTH,
    )
    return tok


def unknown_words(tokenizer: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Words of `text` that the tokenizer would map to <unk>, in order of appearance."""
    require_tokenizer("tokenizer", tokenizer)
    require_str("text", text, allow_empty=True)
    vocab = tokenizer.get_vocab()
    words = re.findall(r"<[a-z]+>|\w+|[^\w\s]+", text.lower())
    return [w for w in words if w not in vocab]


def known_words(tokenizer: PreTrainedTokenizerFast) -> list[str]:
    """The tokenizer's words, sorted, without the special tokens."""
    require_tokenizer("tokenizer", tokenizer)
    return sorted(w for w in tokenizer.get_vocab() if not w.startswith("<"))


def unknown_words_message(tokenizer: PreTrainedTokenizerFast, text: str, missing: list[str]) -> str:
    """The one message for words outside the vocabulary: which words, in which text, and what is known."""
    known = known_words(tokenizer)
    return (
        f"unknown word(s) {missing} in {text!r}: the tiny models only know the {len(known)} Shapes World "
        f"words: {', '.join(known)}"
    )


def require_known_words(tokenizer: PreTrainedTokenizerFast, text: str, name: str = "text") -> str:
    """Return `text`, or raise ValueError naming the caller's argument `name` and its words outside the vocabulary."""
    require_str(name, text, allow_empty=True)
    missing = unknown_words(tokenizer, text)
    if missing:
        raise ValueError(f"{name} has {unknown_words_message(tokenizer, text, missing)}")
    return text


def encode(tokenizer: PreTrainedTokenizerFast, text: str, add_special_tokens: bool = True) -> list[int]:
    """Token ids of `text`; raises ValueError naming any word outside the vocabulary."""
    require_known_words(tokenizer, text)
    return tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: str | Path) -> Path:
    """`save_pretrained` into a local folder and return its path."""
    require_tokenizer("tokenizer", tokenizer)
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a folder path (str or Path), got {describe(folder)}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"folder={str(folder)!r} is a file; pass a folder path (it is created if missing)")
    tokenizer.save_pretrained(folder)
    return folder


def load_tokenizer(folder: str | Path) -> PreTrainedTokenizerFast:
    """`from_pretrained` from a local folder only (never the hub)."""
    folder = require_folder("folder", folder)
    if not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError(f"folder={str(folder)!r} has no tokenizer.json; save one with save_tokenizer() first")
    return PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
