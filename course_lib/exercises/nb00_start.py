"""Exercises of notebook 00: reading Shapes World arrays."""

from ..shapes_world import ALL_COMPOSITIONS, HELD_OUT, generate_scenes
from .core import Exercise, equal, register

register(Exercise(
    key="00.held_out_count",
    task="How many colour-shape compositions does the train split never show?",
    solution=lambda: len(HELD_OUT),
    compare=equal,
    hint="Look at shapes_world.HELD_OUT: one held-out shape per colour.",
    mistakes=(
        (len(ALL_COMPOSITIONS), "That is every composition (colours x shapes); count only the held-out ones."),
        (len(ALL_COMPOSITIONS) - len(HELD_OUT), "That is the number the train split does show."),
    ),
))

register(Exercise(
    key="00.batch_numbers",
    task="How many uint8 numbers does a batch of 16 Shapes World scenes of 48 x 48 pixels hold?",
    solution=lambda: 16 * 48 * 48 * 3,
    compare=equal,
    hint="Multiply the batch size by height, width and the number of colour channels.",
    mistakes=(
        (16 * 48 * 48, "Each pixel holds 3 numbers: red, green and blue."),
        (48 * 48 * 3, "That is one scene; the batch holds 16."),
    ),
))


def _red_scenes() -> int:
    scenes = generate_scenes(100, seed=0, max_objects=3)
    return int((scenes.colors == 0).any(axis=1).sum())


register(Exercise(
    key="00.red_scenes",
    task="In generate_scenes(100, seed=0, max_objects=3), how many scenes contain a red object?",
    solution=_red_scenes,
    compare=equal,
    hint="scenes.colors is (N, 3) with colour indices (red is 0) and -1 for empty slots; test each row.",
    mistakes=(
        (int((generate_scenes(100, seed=0, max_objects=3).colors[:, 0] == 0).sum()),
         "You looked only at the first object of each scene; a red object can be in any of the 3 slots."),
    ),
))
