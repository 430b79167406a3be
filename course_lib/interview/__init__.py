"""Interview review (notebook 08): the question bank in data/interview/, a scored quiz, Leitner flash
cards, numeric drills with fresh parameters, a mock interview, and their ipywidgets views.

Modules: `bank` (load and validate the bank, compute numeric answers, render Markdown pages),
`quiz` (grading, scoring, mock interview), `cards` (Leitner boxes and the progress file),
`drills` (numeric drills from `course_lib.budgets` / `course_lib.patches`), `ui` (the widgets).
Taught in notebook 08.
"""
