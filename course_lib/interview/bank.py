"""The interview question bank: one JSON object per line in data/interview/bank.jsonl.

Every question names the notebook section that teaches it. A numeric question carries no typed
answer: its `compute` field names `course_lib` functions and their arguments (or arithmetic on
values computed before it), and `answer` is a template ("... = {answer:,} tokens") filled with the
computed values. Open questions (concept, design, debugging, paper) carry a three-point rubric.
Taught in notebook 08, section 1.
"""
from __future__ import annotations

import ast
import importlib
import json
import math
import operator
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ..base.paths import DATA_DIR, NOTEBOOKS_DIR

BANK_PATH = DATA_DIR / "interview" / "bank.jsonl"
KINDS: tuple[str, ...] = ("concept", "numeric", "design", "debugging", "paper")
OPEN_KINDS: tuple[str, ...] = ("concept", "design", "debugging", "paper")
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
# Topic -> one-line description (the Markdown pages and the quiz's topic menu use them).
TOPICS: dict[str, str] = {
    "patches": "ViT patches, token counts, attention cost, position embeddings (notebook 01)",
    "contrastive": "CLIP: InfoNCE, normalisation, temperature, batch size and negatives (notebook 02)",
    "sigmoid": "SigLIP: the sigmoid loss, its initialisation, distributed computation (notebook 03)",
    "zero-shot": "Zero-shot classification, prompting, abstention, failure modes, retrieval (notebook 04)",
    "llava": "LLaVA: projector, <image> tokens, two-stage training, priors, token and KV budgets (notebook 05)",
    "bridges": "Q-Former, Perceiver Resampler, gated cross-attention, fusion (notebook 06)",
    "video": "Video: frame sampling, pooling, 3-D patches, temporal grounding, budgets (notebook 07)",
    "evaluation": "Benchmarks, hallucination, shortcuts and what each test measures",
    "training": "Objectives, frozen vs trained parts, LoRA, data mixing, pre-training choices",
    "systems": "Latency budgets, vector search, routing, serving multimodal systems",
    "safety": "Bias, safety checks and prompt injection for vision-language models",
}
# Notebook number -> file stem. Notebook 06 is written on another branch.
NOTEBOOK_STEMS: dict[str, str] = {
    "01": "01_vit_patches", "02": "02_clip", "03": "03_siglip", "04": "04_zero_shot", "05": "05_llava",
    "06": "06_qformer_perceiver_xattn", "07": "07_video", "08": "08_interview_review",
}
PENDING_PREFIX = "pending: "
FIELDS_REQUIRED = ("id", "kind", "difficulty", "topic", "tags", "notebook", "section", "question", "answer",
                   "follow_up")
FIELDS_OPTIONAL = ("rubric", "compute", "tolerance", "unit", "choices", "correct", "references", "corner")
DEFAULT_TOLERANCE = 0.01  # relative, for numeric answers


@dataclass(frozen=True)
class Question:
    """One bank entry. `answer` is the model answer (a template for numeric questions: use
    `model_answer(q)`); `correct` indexes `choices` for multiple-choice use in the quiz;
    `section` is a heading of the notebook (without '## '), or 'pending: <topic>' while that
    notebook is not in the repository; `corner` is 'Q<n>' if the question is in the notebook's
    interview corner."""

    id: str
    kind: str
    difficulty: str
    topic: str
    tags: tuple[str, ...]
    notebook: str | None
    section: str | None
    question: str
    answer: str
    follow_up: str
    rubric: tuple[str, ...] = ()
    compute: dict[str, Any] = field(default_factory=dict)
    tolerance: float = DEFAULT_TOLERANCE
    unit: str = ""
    choices: tuple[str, ...] = ()
    correct: int | None = None
    references: tuple[str, ...] = ()
    corner: str | None = None

    @property
    def quizzable(self) -> bool:
        """Numeric and multiple-choice questions have a checkable answer."""
        return self.kind == "numeric" or bool(self.choices)

    @property
    def pending(self) -> bool:
        return bool(self.section) and self.section.startswith(PENDING_PREFIX)


class BankError(ValueError):
    """A malformed bank entry: the message names the line, the field and the fix."""


def _fail(where: str, message: str) -> None:
    raise BankError(f"{where}: {message}")


def _require_str_list(where: str, name: str, value: Any, *, n: int | None = None, allow_empty: bool = True) -> tuple:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        _fail(where, f"{name} must be a list of non-empty strings, got {value!r}")
    if n is not None and len(value) != n:
        _fail(where, f"{name} must have exactly {n} entries, got {len(value)}")
    if not allow_empty and not value:
        _fail(where, f"{name} must not be empty")
    return tuple(value)


def parse_question(record: Any, where: str = "question") -> Question:
    """Validate one decoded JSON object and return a Question; BankError names what is wrong."""
    if not isinstance(record, dict):
        _fail(where, f"expected a JSON object, got {type(record).__name__}")
    missing = [f for f in FIELDS_REQUIRED if f not in record]
    if missing:
        _fail(where, f"missing field(s) {missing}; every question needs {list(FIELDS_REQUIRED)}")
    unknown = sorted(set(record) - set(FIELDS_REQUIRED) - set(FIELDS_OPTIONAL))
    if unknown:
        _fail(where, f"unknown field(s) {unknown}; allowed: {list(FIELDS_REQUIRED + FIELDS_OPTIONAL)}")
    where = f"{where} ({record['id']!r})"
    if not isinstance(record["id"], str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", record["id"]):
        _fail(where, "id must be lower-case words joined by '-', e.g. '01-tokens-336'")
    for name, choices in (("kind", KINDS), ("difficulty", DIFFICULTIES), ("topic", tuple(TOPICS))):
        if record[name] not in choices:
            _fail(where, f"{name} must be one of {list(choices)}, got {record[name]!r}")
    for name in ("question", "answer", "follow_up"):
        if not isinstance(record[name], str) or len(record[name].strip()) < 10:
            _fail(where, f"{name} must be a sentence (a string of 10+ characters), got {record[name]!r}")
    tags = _require_str_list(where, "tags", record["tags"], allow_empty=False)
    notebook, section = record["notebook"], record["section"]
    if notebook is None:
        if section is not None:
            _fail(where, "a question with no teaching notebook has section null")
        if not record.get("references"):
            _fail(where, "a question beyond the notebooks must cite references (authors, year, arXiv id)")
    else:
        if notebook not in NOTEBOOK_STEMS:
            _fail(where, f"notebook must be one of {list(NOTEBOOK_STEMS)} or null, got {notebook!r}")
        if not isinstance(section, str) or not section.strip():
            _fail(where, "section must be the heading text of the teaching section, e.g. '3 · Counting tokens'")
    rubric = _require_str_list(where, "rubric", record.get("rubric", []))
    if record["kind"] in OPEN_KINDS and len(rubric) != 3:
        _fail(where, f"an open ({record['kind']}) question needs a rubric of exactly 3 points, got {len(rubric)}")
    compute = record.get("compute", {})
    if record["kind"] == "numeric":
        if not isinstance(compute, dict) or "answer" not in compute:
            _fail(where, "a numeric question needs compute.answer: {'call': 'course_lib.module.function', ...}")
        if "{answer" not in record["answer"]:
            _fail(where, "a numeric answer is a template that shows the computed value: put {answer} in it")
    elif compute:
        _fail(where, "only numeric questions carry compute")
    for name, spec in compute.items():
        if not isinstance(spec, dict) or len({"call", "get", "expr"} & set(spec)) != 1:
            _fail(where, f"compute.{name} must have exactly one of 'call', 'get' or 'expr', got {spec!r}")
        for key in ("call", "get"):
            if key in spec and not str(spec[key]).startswith("course_lib."):
                _fail(where, f"compute.{name}.{key} must name a course_lib object, got {spec[key]!r}")
    if record["kind"] == "numeric" and not any({"call", "get"} & set(spec) for spec in compute.values()):
        _fail(where, "a numeric answer comes from course_lib: at least one compute entry needs 'call' or 'get'")
    tolerance = record.get("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        _fail(where, f"tolerance is a relative tolerance in [0, 1), got {tolerance!r}")
    choices = _require_str_list(where, "choices", record.get("choices", []))
    correct = record.get("correct")
    if choices:
        if len(choices) < 3:
            _fail(where, "a multiple-choice question needs at least 3 choices")
        if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct < len(choices):
            _fail(where, f"correct must index choices (0..{len(choices) - 1}), got {correct!r}")
    elif correct is not None:
        _fail(where, "correct is given but choices is empty")
    references = _require_str_list(where, "references", record.get("references", []))
    if record["kind"] == "paper" and not references:
        _fail(where, "a paper question cites its paper in references")
    corner = record.get("corner")
    if corner is not None and not (isinstance(corner, str) and re.fullmatch(r"Q[1-9]\d*", corner)):
        _fail(where, f"corner must be 'Q<n>' (the number in the notebook's interview corner), got {corner!r}")
    return Question(
        id=record["id"], kind=record["kind"], difficulty=record["difficulty"], topic=record["topic"], tags=tags,
        notebook=notebook, section=section, question=record["question"].strip(), answer=record["answer"].strip(),
        follow_up=record["follow_up"].strip(), rubric=rubric, compute=compute, tolerance=float(tolerance),
        unit=record.get("unit", ""), choices=choices, correct=correct, references=references, corner=corner,
    )


def load_bank(path: str | Path | None = None) -> list[Question]:
    """Every question of the bank, validated; ids are unique. BankError names the bad line."""
    path = Path(path) if path is not None else BANK_PATH
    if not path.exists():
        raise FileNotFoundError(f"no question bank at {path}; the course ships data/interview/bank.jsonl")
    questions, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise BankError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
        q = parse_question(record, where)
        if q.id in seen:
            _fail(where, f"id {q.id!r} is used twice")
        seen.add(q.id)
        questions.append(q)
    return questions


@lru_cache(maxsize=1)
def _cached_bank() -> tuple[Question, ...]:
    return tuple(load_bank())


def bank() -> list[Question]:
    """The shipped bank (loaded once per process)."""
    return list(_cached_bank())


def by_id(questions: Sequence[Question], qid: str) -> Question:
    """The question with id `qid`; KeyError names close ids."""
    for q in questions:
        if q.id == qid:
            return q
    close = [q.id for q in questions if qid.split("-")[0] == q.id.split("-")[0]][:5]
    raise KeyError(f"no question {qid!r} in the bank; ids starting alike: {close}")


# ---- numeric answers: computed, never typed ---------------------------------------------------

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow, ast.Mod: operator.mod}
_FUNCTIONS = {"log": math.log, "log2": math.log2, "exp": math.exp, "sqrt": math.sqrt, "ceil": math.ceil,
              "floor": math.floor, "min": min, "max": max, "round": round, "abs": abs}


def safe_eval(expression: str, values: dict[str, Any]) -> float:
    """Arithmetic on numbers and previously computed values (+ - * / // ** %, log, exp, sqrt, ...)."""
    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ValueError(f"expression {expression!r} uses {node.id!r}, not computed before it: {list(values)}")
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
                and not node.keywords:
            return _FUNCTIONS[node.func.id](*(walk(a) for a in node.args))
        raise ValueError(f"expression {expression!r}: only numbers, computed names, + - * / // ** % and "
                         f"{sorted(_FUNCTIONS)} are allowed")

    return walk(ast.parse(expression, mode="eval"))


def resolve(dotted: str) -> Any:
    """The course_lib object named by a dotted path, e.g. 'course_lib.patches.num_patches'."""
    if not dotted.startswith("course_lib."):
        raise ValueError(f"only course_lib functions compute bank answers, got {dotted!r}")
    module_name, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise LookupError(f"{dotted!r} does not exist ({err}); was it moved or renamed? update the bank") from None


def compute_values(q: Question) -> dict[str, Any]:
    """Evaluate a numeric question's compute entries in order: calls of course_lib functions (with
    optional `attr` to read a result's attribute and `index` to pick an item, an int or a list of
    ints applied in turn), course_lib constants (`get`) and expressions on earlier values."""
    values: dict[str, Any] = {}
    for name, spec in q.compute.items():
        if "call" in spec or "get" in spec:
            result = resolve(spec["get"]) if "get" in spec else \
                resolve(spec["call"])(*spec.get("args", []), **spec.get("kwargs", {}))
            for attr in filter(None, spec.get("attr", "").split(".")):
                result = getattr(result, attr)
            index = spec.get("index", [])
            for i in [index] if isinstance(index, (int, str)) else index:
                result = result[i]
        else:
            result = safe_eval(spec["expr"], values)
        values[name] = result
    return values


def numeric_answer(q: Question) -> float:
    """The computed answer of a numeric question."""
    if q.kind != "numeric":
        raise ValueError(f"question {q.id!r} is a {q.kind} question, not numeric")
    return float(compute_values(q)["answer"])


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.endswith("bytes"):  # {kv:bytes} -> '1.43 GiB'
            from ..budgets import format_bytes

            return format_bytes(value)
        return super().format_field(value, format_spec)


def model_answer(q: Question) -> str:
    """The model answer with every computed value filled in."""
    if q.kind != "numeric":
        return q.answer
    return _Formatter().format(q.answer, **compute_values(q))


# ---- sections and links ------------------------------------------------------------------------

def notebook_path(notebook: str) -> Path:
    """notebooks/NN_<name>.ipynb: the notebook in the repository whose name starts with NN, else the
    name NOTEBOOK_STEMS expects (06 is written on another branch and may pick another name)."""
    found = sorted(NOTEBOOKS_DIR.glob(f"{notebook}_*.py"))
    return found[0].with_suffix(".ipynb") if found else NOTEBOOKS_DIR / f"{NOTEBOOK_STEMS[notebook]}.ipynb"


def notebook_headings(notebook: str) -> list[str]:
    """'## ' headings of a notebook's py:percent twin (text after '## '); [] if it is not in the repo."""
    py = notebook_path(notebook).with_suffix(".py")
    if not py.exists():
        return []
    return [line[len("# ## "):].strip() for line in py.read_text(encoding="utf-8").splitlines()
            if line.startswith("# ## ")]


def corner_questions(notebook: str) -> dict[str, str]:
    """The questions of a notebook's interview corner, 'Q<n>' -> question text (whitespace
    normalised, markup removed), read from its py:percent twin; {} if the notebook is not in the repo."""
    py = notebook_path(notebook).with_suffix(".py")
    if not py.exists():
        return {}
    lines, inside = [], False
    for line in py.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ## "):
            inside = "Interview corner" in line
            continue
        if inside:
            lines.append(re.sub(r"^# ?", "", line))
    text = "\n".join(lines)
    found = re.findall(r"<summary>(?:<b>)?Q?(\d+)\.\s*(.*?)(?:</b>)?</summary>", text, flags=re.S)
    found += re.findall(r"\*\*Q(\d+)\.\s*(.*?)\*\*", text, flags=re.S)
    return {f"Q{n}": " ".join(q.split()) for n, q in found}


def section_anchor(section: str, style: str = "jupyter") -> str:
    """The anchor JupyterLab ('jupyter': spaces -> '-') or GitHub ('github') gives a heading."""
    if style == "jupyter":  # the rendered heading text (code marks dropped), spaces -> '-'
        return section.replace("`", "").replace(" ", "-")
    if style == "github":
        text = re.sub(r"[^\w\- ]", "", section.lower().replace("`", ""))
        return text.replace(" ", "-")
    raise ValueError(f"style must be 'jupyter' or 'github', got {style!r}")


def section_link(q: Question, style: str = "jupyter", base: str = "") -> str:
    """'NN_name.ipynb#anchor' for the section that teaches q (relative to `base`), or its references."""
    if q.notebook is None:
        return "; ".join(q.references)
    if q.pending:
        return f"notebook {q.notebook} ({q.section[len(PENDING_PREFIX):]}; not in the repository yet)"
    return f"{base}{notebook_path(q.notebook).name}#{section_anchor(q.section, style)}"


def where_taught(q: Question) -> str:
    """'notebook 01, section 3 · Counting tokens', or the references for questions beyond the notebooks."""
    if q.notebook is None:
        return "beyond the notebooks: " + "; ".join(q.references)
    if q.pending:
        return f"notebook {q.notebook}, {q.section[len(PENDING_PREFIX):]} (that notebook is not in the repository yet)"
    return f"notebook {q.notebook}, section {q.section}"


# ---- the bank as Markdown ---------------------------------------------------------------------

def _md(text: str) -> str:
    """Text safe in Markdown: '<image>' would otherwise vanish as an HTML tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def topic_page(questions: Sequence[Question], topic: str) -> str:
    """One Markdown page: every question of `topic` with its model answer, follow-up and rubric."""
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {list(TOPICS)}, got {topic!r}")
    chosen = [q for q in questions if q.topic == topic]
    lines = [f"# Interview bank: {topic}", "", _md(TOPICS[topic]) + ".", "",
             f"{len(chosen)} questions. Generated from `data/interview/bank.jsonl` by `make bank`; "
             "do not edit by hand.", ""]
    for q in chosen:
        lines += [f"## {_md(q.question)}", "",
                  f"*{q.kind}, {q.difficulty}; {', '.join(q.tags)}; id `{q.id}`*", ""]
        if q.choices:
            lines += [f"{chr(65 + i)}. {_md(c)}" for i, c in enumerate(q.choices)] + [""]
        lines += ["**Model answer.** " + _md(model_answer(q)), "", "**Follow-up.** " + _md(q.follow_up), ""]
        if q.rubric:
            lines += ["**A strong answer:**", ""] + [f"- {_md(point)}" for point in q.rubric] + [""]
        if q.notebook is None:
            lines += ["Taught: " + where_taught(q), ""]
        elif q.pending:
            lines += ["Taught: " + where_taught(q), ""]
        else:
            link = section_link(q, "github", base="../../notebooks/")
            lines += [f"Taught: [notebook {q.notebook}, {q.section}]({link})", ""]
        if q.references and q.notebook is not None:
            lines += ["References: " + "; ".join(q.references), ""]
    return "\n".join(lines).rstrip() + "\n"


def index_page(questions: Sequence[Question]) -> str:
    """The bank's front page: counts per topic and kind, with a link to each topic page."""
    lines = ["# Interview bank", "", f"{len(questions)} questions, generated from `data/interview/bank.jsonl` "
             "by `make bank` (do not edit by hand). Notebook 08 runs the quiz, flash cards and drills.", "",
             "| topic | questions | " + " | ".join(KINDS) + " |", "|---|---:|" + "---:|" * len(KINDS)]
    for topic, description in TOPICS.items():
        qs = [q for q in questions if q.topic == topic]
        counts = " | ".join(str(sum(q.kind == k for q in qs)) for k in KINDS)
        lines.append(f"| [{topic}]({topic}.md): {_md(description)} | {len(qs)} | {counts} |")
    return "\n".join(lines) + "\n"


def bank_pages(questions: Sequence[Question] | None = None) -> dict[str, str]:
    """File name -> Markdown text: README.md plus one page per topic."""
    questions = bank() if questions is None else list(questions)
    pages = {"README.md": index_page(questions)}
    pages.update({f"{topic}.md": topic_page(questions, topic) for topic in TOPICS})
    return pages


def write_pages(folder: str | Path) -> list[Path]:
    """Write bank_pages() into `folder` (docs/interview in the repo); returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in bank_pages().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


if __name__ == "__main__":  # python -m course_lib.interview.bank docs/interview
    import sys

    for p in write_pages(sys.argv[1] if len(sys.argv) > 1 else Path(DATA_DIR.parent, "docs", "interview")):
        print(p)
