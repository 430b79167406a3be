"""ipywidgets views of the quiz, the flash cards, the numeric drills and the mock interview.

Each view only wires controls to the pure functions of `quiz`, `cards` and `drills`; every callback
catches bad input and shows a message instead of a traceback. The returned object displays the live
widget in Jupyter and a plain-text description elsewhere (GitHub, HTML, an untrusted notebook), never
a widget repr. Taught in notebook 08.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as widgets

from . import cards, drills, quiz
from .bank import DIFFICULTIES, TOPICS, Question, model_answer, section_link, where_taught


class Live:
    """A widget with a static text fallback: Jupyter shows the widget, other viewers the text."""

    def __init__(self, widget: widgets.Widget, static: str) -> None:
        self.widget, self.static = widget, static

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        return {**data, "text/plain": self.static}

    def __repr__(self) -> str:
        return self.static


def _html(text: str) -> str:
    return f"<pre style='white-space: pre-wrap; max-width: 1200px'>{html.escape(text)}</pre>"


def _link(q: Question) -> str:
    """An HTML link to the section that teaches q (notebooks open side by side in JupyterLab)."""
    if q.notebook is None or q.pending:
        return ""
    href = html.escape(section_link(q, "jupyter"), quote=True)
    return f"<a href='{href}' target='_blank'>open notebook {q.notebook}, section {html.escape(q.section)}</a>"


def _safe(out: widgets.HTML, action: Callable[[], str]) -> None:
    """Run an action and show its text; any error becomes a message in the view."""
    try:
        out.value = _html(action())
    except Exception as err:  # a widget must never show a traceback
        out.value = _html(f"{type(err).__name__}: {err}")


def _choice_or_none(value: str) -> str | None:
    return None if value == "any" else value


def quiz_view(questions: Sequence[Question], seed: int = 0) -> Live:
    """Pick topic, difficulty and length; answer each question; see the model answer and the section
    after each, and the score by topic at the end."""
    topic = widgets.Dropdown(options=["any", *TOPICS], value="any", description="topic")
    difficulty = widgets.Dropdown(options=["any", *DIFFICULTIES], value="any", description="difficulty")
    length = widgets.IntSlider(value=5, min=1, max=15, description="questions")
    start = widgets.Button(description="start quiz")
    prompt, out = widgets.HTML(), widgets.HTML()
    answer = widgets.Text(placeholder="a number, or a letter A, B, C, D", description="answer")
    submit = widgets.Button(description="submit")
    state: dict[str, Any] = {"questions": [], "responses": [], "round": 0}

    def show_current() -> str:
        qs, i = state["questions"], len(state["responses"])
        if i == len(qs):
            return quiz.score_quiz(qs, state["responses"]).text()
        q = qs[i]
        text = f"Question {i + 1} of {len(qs)} [{q.topic}, {q.difficulty}]\n{q.question}"
        if q.choices:
            text += "\n" + "\n".join(f"  {chr(65 + k)}. {c}" for k, c in enumerate(q.choices))
        elif q.unit:
            text += f"\n(answer in {q.unit}; accepted within {q.tolerance:.1%})"
        return text

    def on_start(_: Any = None) -> None:
        def action() -> str:
            state["round"] += 1
            state["questions"] = quiz.select_questions(questions, topic=_choice_or_none(topic.value),
                                                       difficulty=_choice_or_none(difficulty.value), n=length.value,
                                                       seed=seed + state["round"])
            state["responses"] = []
            out.value = ""
            return show_current()
        _safe(prompt, action)

    def on_submit(_: Any = None) -> None:
        qs, i = state["questions"], len(state["responses"])
        if i >= len(qs):
            out.value = _html("press 'start quiz' first" if not qs else "quiz finished: press 'start quiz' again")
            return
        grade = quiz.grade_answer(qs[i], answer.value)
        if not grade.valid:  # let the learner try again
            out.value = _html(grade.message)
            return
        state["responses"].append(answer.value)
        answer.value = ""
        out.value = _html(quiz.feedback(qs[i], grade)) + _link(qs[i])
        _safe(prompt, show_current)

    start.on_click(on_start)
    submit.on_click(on_submit)
    box = widgets.VBox([widgets.HBox([topic, difficulty, length, start]), prompt, widgets.HBox([answer, submit]), out])
    box.state = state
    return Live(box, "[quiz widget: run the notebook in Jupyter to take the quiz; the static run above shows one]")


def flashcard_view(deck: Sequence[Question], store: str | Path | None = None) -> Live:
    """Leitner flash cards: question, 'show answer', then 'I knew it' / 'not yet'. Progress is saved
    after every card to `store` (default: cards.default_store())."""
    progress = {"value": cards.load_progress(store)}
    front, back, counts = widgets.HTML(), widgets.HTML(), widgets.HTML()
    reveal, knew, missed = (widgets.Button(description=d) for d in ("show answer", "I knew it", "not yet"))
    reset = widgets.Button(description="reset progress")
    queue: list[Question] = []

    def refresh() -> None:
        if not queue:
            progress["value"] = cards.next_session(progress["value"])
            cards.save_progress(progress["value"], store)
            queue.extend(cards.due_cards(deck, progress["value"], limit=20))
        c = cards.box_counts(deck, progress["value"])
        counts.value = _html(f"session {progress['value']['session']}; cards per box: {c}")
        front.value = _html(queue[0].question if queue else "nothing due")
        back.value = ""

    def on_reveal(_: Any = None) -> None:
        _safe(back, lambda: f"{model_answer(queue[0])}\n\nTaught in: {where_taught(queue[0])}" if queue else "")

    def on_answer(correct: bool) -> None:
        if queue:
            progress["value"] = cards.record_answer(progress["value"], queue.pop(0).id, correct)
            cards.save_progress(progress["value"], store)
        refresh()

    def on_reset(_: Any = None) -> None:
        cards.reset_progress(store)
        progress["value"] = cards.empty_progress()
        queue.clear()
        refresh()

    reveal.on_click(on_reveal)
    knew.on_click(lambda _: on_answer(True))
    missed.on_click(lambda _: on_answer(False))
    reset.on_click(on_reset)
    queue.extend(cards.due_cards(deck, progress["value"], limit=20))
    refresh()
    box = widgets.VBox([counts, front, widgets.HBox([reveal, knew, missed, reset]), back])
    box.progress = progress
    return Live(box, "[flash-card widget: run the notebook in Jupyter; progress is saved to "
                     f"{Path(store) if store else cards.default_store()}]")


def drill_view(seed: int | None = None) -> Live:
    """Pick a drill kind, get fresh parameters, type an answer, check it."""
    kind = widgets.Dropdown(options=list(drills.DRILL_KINDS), description="drill")
    new = widgets.Button(description="new drill")
    answer, check = widgets.Text(description="answer"), widgets.Button(description="check")
    prompt, out = widgets.HTML(), widgets.HTML()
    state: dict[str, Any] = {"drill": None, "count": 0}

    def on_new(_: Any = None) -> None:
        def action() -> str:
            state["count"] += 1
            state["drill"] = drills.make_drill(kind.value, None if seed is None else seed + state["count"])
            out.value = ""
            return state["drill"].prompt
        _safe(prompt, action)

    def on_check(_: Any = None) -> None:
        if state["drill"] is None:
            out.value = _html("press 'new drill' first")
            return
        _safe(out, lambda: drills.check_drill(state["drill"], answer.value).message)

    new.on_click(on_new)
    check.on_click(on_check)
    on_new()
    box = widgets.VBox([widgets.HBox([kind, new]), prompt, widgets.HBox([answer, check]), out])
    box.state = state
    return Live(box, "[drill widget: run the notebook in Jupyter for fresh drills; the static drills above show "
                     "the kinds]")


def mock_view(questions: Sequence[Question], minutes_per_question: float = 4.0,
              clock: Callable[[], float] = time.monotonic) -> Live:
    """Five questions across topics, one at a time, timed; model answers and rubrics at the end."""
    start, nxt = widgets.Button(description="start interview"), widgets.Button(description="next question")
    prompt, out = widgets.HTML(), widgets.HTML()
    state: dict[str, Any] = {"questions": [], "seconds": [], "t0": 0.0, "round": 0}

    def on_start(_: Any = None) -> None:
        state["round"] += 1
        state["questions"] = quiz.mock_interview(questions, seed=int(clock() * 1000) % 2**32 + state["round"])
        state["seconds"], state["t0"] = [], clock()
        out.value = ""
        prompt.value = _html(f"Q1 of 5 ({minutes_per_question:g} min suggested; answer aloud or on paper)\n"
                             f"{state['questions'][0].question}")

    def on_next(_: Any = None) -> None:
        qs = state["questions"]
        if not qs or len(state["seconds"]) == len(qs):
            out.value = _html("press 'start interview' first")
            return
        now = clock()
        state["seconds"].append(now - state["t0"])
        state["t0"] = now
        i = len(state["seconds"])
        if i < len(qs):
            prompt.value = _html(f"Q{i + 1} of {len(qs)}\n{qs[i].question}")
        else:
            prompt.value = _html("done: answers below")
            _safe(out, lambda: quiz.mock_report(qs, state["seconds"], minutes_per_question))

    start.on_click(on_start)
    nxt.on_click(on_next)
    box = widgets.VBox([widgets.HBox([start, nxt]), prompt, out])
    box.state = state
    return Live(box, "[mock-interview widget: run the notebook in Jupyter; the static mock interview above shows "
                     "the format]")
