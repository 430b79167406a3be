"""Shapes World: the course's seeded, procedural lab bench of small RGB scenes.

A scene holds 1 to 3 objects, each with a colour, a shape, a size and a cell of a 3x3
grid. Objects in one scene never share a colour or a shape, so "the red object" or "the
circle" always names exactly one object. Some colour-shape compositions are held out:
the "train" split never shows them, so a model can be tested on pairs it never saw.

Everything is vectorised numpy and seeded: the same arguments give byte-identical arrays.

Taught in notebook 00, section 3; every later notebook trains and tests on it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base.validation import (
    describe,
    require_array,
    require_budget,
    require_choice,
    require_index,
    require_instance,
    require_int,
    require_sequence,
    short_repr,
)

COLORS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
COLOR_RGB = np.array(
    [[230, 40, 40], [40, 190, 70], [50, 100, 240], [240, 220, 40], [160, 70, 220], [250, 140, 20]],
    dtype=np.uint8,
)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = (
    "top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right",
)
POSITION_PHRASES: tuple[str, ...] = (
    "in the top left", "at the top", "in the top right", "on the left", "in the center",
    "on the right", "in the bottom left", "at the bottom", "in the bottom right",
)
COUNT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three")
SPLITS: tuple[str, ...] = ("train", "held_out", "all")

# One held-out shape per colour (a diagonal), so every colour and every shape is still seen in training.
HELD_OUT: tuple[tuple[str, str], ...] = tuple(
    (c, SHAPES[i % len(SHAPES)]) for i, c in enumerate(COLORS)
)
ALL_COMPOSITIONS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLORS for s in SHAPES)
SEEN: tuple[tuple[str, str], ...] = tuple(p for p in ALL_COMPOSITIONS if p not in HELD_OUT)

MAX_OBJECTS = 3
MAX_SCENES = 200_000  # 48x48 scenes: 1.3 GiB of images, within the 2 GiB budget of validation.MAX_BYTES
BACKGROUND = 0

CAPTION_TEMPLATES: tuple[str, ...] = (
    "a photo of a {color} {shape}",
    "a {size} {color} {shape}",
    "a {color} {shape} {where}",
    "a picture of a {size} {color} {shape}",
    "there is a {color} {shape} {where}",
    "{color} {shape}",
    "an image of a {size} {color} {shape} {where}",
    "a {shape} that is {color}",
)
QUESTION_TYPES: tuple[str, ...] = ("color", "shape", "size", "position", "count", "exists", "relation")
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
LINKS: dict[str, str] = {"left": "left of", "right": "right of", "above": "above", "below": "below"}  # in captions


@dataclass(frozen=True)
class Scenes:
    """A batch of scenes. Object arrays are (N, 3) with -1 where a slot holds no object.

    images: (N, S, S, 3) uint8; colors, shapes, sizes: indices into COLORS, SHAPES, SIZES;
    cells: index into POSITIONS (row-major 3x3 grid).
    """

    images: np.ndarray
    colors: np.ndarray
    shapes: np.ndarray
    sizes: np.ndarray
    cells: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_objects(self) -> np.ndarray:
        """(N,) number of objects in each scene."""
        return (self.colors >= 0).sum(axis=1)

    @property
    def labels(self) -> np.ndarray:
        """(N,) colour-shape class of each scene's first object: color * len(SHAPES) + shape."""
        return composition_label(self.colors[:, 0], self.shapes[:, 0])

    def objects(self, i: int) -> list[dict[str, str]]:
        """The objects of scene `i` as dicts of names: color, shape, size, position."""
        i = require_int("i", i, low=0, high=len(self) - 1)
        return [
            {
                "color": COLORS[self.colors[i, k]],
                "shape": SHAPES[self.shapes[i, k]],
                "size": SIZES[self.sizes[i, k]],
                "position": POSITIONS[self.cells[i, k]],
            }
            for k in range(MAX_OBJECTS)
            if self.colors[i, k] >= 0
        ]

    def subset(self, index: np.ndarray | Sequence[int] | slice) -> "Scenes":
        """The scenes at `index` (a slice, an index array or a boolean mask)."""
        if not isinstance(index, slice):
            if isinstance(index, (str, bytes)) or not isinstance(index, (list, tuple, range, np.ndarray)):
                raise TypeError(
                    f"index must be a slice, a list of scene indices or a boolean mask, got {describe(index)}"
                )
            arr = np.asarray(index)
            if arr.dtype == bool:
                require_array("index", arr, shape=(len(self),))
            elif arr.size:
                if arr.ndim != 1 or arr.dtype.kind not in "iu":
                    raise TypeError(f"index must be a 1-D list of integer scene indices, got {short_repr(index)}")
                if arr.min() < -len(self) or arr.max() >= len(self):
                    raise ValueError(f"index must hold scene indices in [0, {len(self) - 1}], got {short_repr(index)}")
        return Scenes(*(a[index] for a in (self.images, self.colors, self.shapes, self.sizes, self.cells)))


def _require_indices(name: str, values, names: Sequence[str]) -> np.ndarray:
    """`values` as an integer array of indices into `names` (e.g. COLORS), else a clear error."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer indices into {list(names)}, got {describe(values)}; "
                        f"use {list(names)}.index(name) to turn a name into an index")
    if arr.size and (arr.min() < 0 or arr.max() >= len(names)):
        raise ValueError(f"{name} must be indices in [0, {len(names) - 1}], got {short_repr(values)}")
    return arr


def cell_patches(cell: int, grid: int = 6) -> list[int]:
    """Indices of the patches (row-major over a grid x grid patch map) inside cell `cell` (0-8, row-major) of
    Shapes World's 3 x 3 scene grid: the 4 patches of an object's cell for the tiny tower's 6 x 6 patches."""
    cell, grid = require_int("cell", cell, low=0, high=8), require_int("grid", grid, low=3)
    if grid % 3:
        raise ValueError(f"grid must be a multiple of 3 (the scene's 3 x 3 cells), got {grid}")
    per, (row, col) = grid // 3, divmod(cell, 3)
    return [(row * per + i) * grid + col * per + j for i in range(per) for j in range(per)]


def composition_label(colors: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Class index of colour-shape pairs: color * len(SHAPES) + shape, for arrays of indices."""
    return _require_indices("colors", colors, COLORS) * len(SHAPES) + _require_indices("shapes", shapes, SHAPES)


def composition_names() -> list[str]:
    """Names of all colour-shape classes in label order, e.g. 'red circle'."""
    return [f"{c} {s}" for c, s in ALL_COMPOSITIONS]


def is_held_out(colors: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Boolean array: is each (colour index, shape index) pair a held-out composition?"""
    held = np.zeros((len(COLORS), len(SHAPES)), dtype=bool)
    for c, s in HELD_OUT:
        held[COLORS.index(c), SHAPES.index(s)] = True
    return held[_require_indices("colors", colors, COLORS), _require_indices("shapes", shapes, SHAPES)]


def object_radius(size_index: np.ndarray, image_size: int) -> np.ndarray:
    """Radius in pixels of small (index 0) and large (index 1) objects: S/12 and 7S/48."""
    require_int("image_size", image_size, low=1)
    return np.where(_require_indices("size_index", size_index, SIZES) == 0, image_size / 12.0, image_size * 7.0 / 48.0)


def draw_objects(
    centers: np.ndarray, radii: np.ndarray, shapes: np.ndarray, colors: np.ndarray, image_size: int
) -> np.ndarray:
    """Draw objects on a black canvas.

    centers: (N, K, 2) float (y, x) pixel coordinates; radii: (N, K) float;
    shapes, colors: (N, K) int indices, -1 for an empty slot. Returns (N, S, S, 3) uint8.
    """
    require_array("shapes", shapes, ndim=2, dtype="i")
    n, k = shapes.shape
    require_array("colors", colors, shape=(n, k), dtype="i")
    require_array("radii", radii, shape=(n, k))
    require_array("centers", centers, shape=(n, k, 2))
    image_size = require_int("image_size", image_size, low=1, high=4096)
    images = np.full((n, image_size, image_size, 3), BACKGROUND, dtype=np.uint8)
    grid = np.arange(image_size, dtype=np.float32) + 0.5
    for slot in range(k):
        for s in range(len(SHAPES)):
            idx = np.nonzero(shapes[:, slot] == s)[0]
            if idx.size == 0:
                continue
            dy = grid[None, :, None] - centers[idx, slot, 0, None, None].astype(np.float32)
            dx = grid[None, None, :] - centers[idx, slot, 1, None, None].astype(np.float32)
            mask = _shape_mask(SHAPES[s], dy, dx, radii[idx, slot, None, None].astype(np.float32))
            sub = images[idx]
            sub[mask] = COLOR_RGB[np.broadcast_to(colors[idx, slot, None, None], mask.shape)[mask]]
            images[idx] = sub
    return images


def _shape_mask(shape: str, dy: np.ndarray, dx: np.ndarray, r: np.ndarray) -> np.ndarray:
    ay, ax = np.abs(dy), np.abs(dx)
    if shape == "circle":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        return np.maximum(ay, ax) <= 0.8 * r
    if shape == "diamond":
        return ay + ax <= 1.1 * r
    if shape == "triangle":  # apex up, base at 0.8 r below the centre
        return (dy >= -r) & (dy <= 0.8 * r) & (ax <= (dy + r) / 1.8)
    if shape == "cross":
        arm = 0.35 * r
        return ((ax <= arm) & (ay <= r)) | ((ay <= arm) & (ax <= r))
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _compositions(split: str) -> np.ndarray:
    pairs = {"train": SEEN, "held_out": HELD_OUT, "all": ALL_COMPOSITIONS}[split]
    return np.array([[COLORS.index(c), SHAPES.index(s)] for c, s in pairs])


def _sample_objects(rng: np.random.Generator, n: int, counts: np.ndarray, split: str):
    """Distinct compositions per scene, with no colour and no shape repeated in one scene."""
    pairs = _compositions(split)
    colors = np.full((n, MAX_OBJECTS), -1, dtype=np.int64)
    shapes = np.full((n, MAX_OBJECTS), -1, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        pick = np.argsort(rng.random((todo.size, len(pairs))), axis=1)[:, :MAX_OBJECTS]
        c, s = pairs[pick, 0], pairs[pick, 1]
        present = np.arange(MAX_OBJECTS)[None, :] < counts[todo, None]
        c, s = np.where(present, c, -1), np.where(present, s, -1)
        ok = np.ones(todo.size, dtype=bool)
        for a in range(MAX_OBJECTS):
            for b in range(a + 1, MAX_OBJECTS):
                both = present[:, a] & present[:, b]
                ok &= ~(both & ((c[:, a] == c[:, b]) | (s[:, a] == s[:, b])))
        colors[todo[ok]], shapes[todo[ok]] = c[ok], s[ok]
        todo = todo[~ok]
    return colors, shapes


def generate_scenes(
    n: int,
    seed: int = 0,
    *,
    image_size: int = 48,
    min_objects: int = 1,
    max_objects: int = 1,
    split: str = "train",
) -> Scenes:
    """Generate `n` seeded scenes of `image_size` x `image_size` pixels.

    split: "train" uses only seen compositions, "held_out" only held-out ones, "all" any.
    Each scene has between min_objects and max_objects objects (at most 3) in distinct cells.
    """
    n = require_int("n", n, low=1, high=1_000_000)
    seed = require_int("seed", seed, low=0)
    image_size = require_int("image_size", image_size, low=24, high=512)
    require_budget("n or image_size", n * image_size**2 * 3, f"generate_scenes({n}, image_size={image_size})")
    max_objects = require_int("max_objects", max_objects, low=1, high=MAX_OBJECTS)
    min_objects = require_int("min_objects", min_objects, low=1, high=max_objects)
    require_choice("split", split, SPLITS)
    if split == "held_out" and max_objects > len(COLORS) - 1:  # pragma: no cover - guarded by MAX_OBJECTS
        raise ValueError("too many objects for the held-out split")

    rng = np.random.default_rng(seed)
    counts = rng.integers(min_objects, max_objects + 1, size=n)
    colors, shapes = _sample_objects(rng, n, counts, split)
    present = colors >= 0
    sizes = np.where(present, rng.integers(0, len(SIZES), size=(n, MAX_OBJECTS)), -1)
    cells = np.where(present, np.argsort(rng.random((n, 9)), axis=1)[:, :MAX_OBJECTS], -1)

    cell = image_size / 3.0
    radii = object_radius(np.maximum(sizes, 0), image_size)
    slack = np.maximum(cell / 2 - radii - 1, 0)
    jitter = (rng.random((n, MAX_OBJECTS, 2)) * 2 - 1) * slack[..., None]
    centers = (np.stack([cells // 3, cells % 3], axis=-1) + 0.5) * cell + jitter
    images = draw_objects(np.round(centers * 2) / 2, radii, shapes, colors, image_size)
    return Scenes(images, colors, shapes, sizes, cells)


def concat_scenes(parts: Sequence[Scenes]) -> Scenes:
    """Stack several Scenes batches into one."""
    parts = require_sequence("parts", parts)
    for p in parts:
        require_scenes("parts", p)
    fields = ("images", "colors", "shapes", "sizes", "cells")
    return Scenes(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))



def nearest_palette_color(rgb: np.ndarray) -> np.ndarray:
    """(N,) index into COLORS of the palette colour nearest (squared RGB distance) to each of (N, 3) colours."""
    rgb = np.asarray(rgb)
    require_array("rgb", rgb, shape=(None, 3))
    return ((rgb[:, None, :].astype(int) - COLOR_RGB[None].astype(int)) ** 2).sum(-1).argmin(1)


def off_palette_colors(shapes: np.ndarray, seed: int) -> np.ndarray:
    """(N, 3) uint8 random colours for objects of the given (N,) shape indices, for colour augmentation.

    A colour is never one whose nearest palette colour is held out with that shape, so a repainted
    training object never looks like a held-out composition (no reddish circles, for example).
    """
    shapes = np.asarray(shapes)
    require_array("shapes", shapes, ndim=1, dtype="i")
    if shapes.size and (shapes.min() < 0 or shapes.max() >= len(SHAPES)):
        raise ValueError(f"shapes must be indices in [0, {len(SHAPES) - 1}], got values {shapes.min()}..{shapes.max()}")
    rng = np.random.default_rng(require_int("seed", seed, low=0))
    out = np.zeros((len(shapes), 3), dtype=np.uint8)
    todo = np.arange(len(shapes))
    while todo.size:  # rejection sampling; about 1 draw in 4 is rejected
        rgb = rng.integers(0, 256, size=(todo.size, 3))
        ok = (rgb.max(1) >= 100) & ~is_held_out(nearest_palette_color(rgb), shapes[todo])
        out[todo[ok]] = rgb[ok]
        todo = todo[~ok]
    return out


def repaint(images: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Copy of (N, S, S, 3) uint8 single-object images with every non-background pixel set to
    colors (N, 3) uint8."""
    require_array("images", images, ndim=4, dtype="uint8")
    require_array("colors", colors, shape=(len(images), 3), dtype="uint8")
    out = images.copy()
    mask = (images != BACKGROUND).any(-1)
    out[mask] = np.broadcast_to(colors[:, None, None, :], out.shape)[mask]
    return out


def _article(text: str) -> str:
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def require_scenes(name: str, scenes) -> Scenes:
    """Return `scenes` if it is a Scenes batch (from generate_scenes), else raise naming `name`."""
    return require_instance(name, scenes, Scenes, "a Scenes batch from generate_scenes()",
                            "pass the Scenes object itself, not its .images array" if hasattr(scenes, "shape") else "")


def fill_template(template: str, **fields: str) -> str:
    """template.format(**fields), with a clear error for a typo in a field name."""
    if not isinstance(template, str):
        raise TypeError(f"template must be a string such as 'a {{color}} {{shape}}', got {describe(template)}")
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"template {template!r} cannot be filled ({type(err).__name__}: {err}); "
            f"its fields must be among {sorted('{' + f + '}' for f in fields)}"
        ) from None


def describe_object(scenes: Scenes, i: int, k: int, template: str) -> str:
    """Fill a caption template with object `k` of scene `i`."""
    require_scenes("scenes", scenes)
    i = require_index("i", i, len(scenes), "scenes")
    k = require_index("k", k, MAX_OBJECTS, "object slots")
    if scenes.colors[i, k] < 0:
        raise ValueError(f"scene {i} has no object in slot k={k}: it has {int(scenes.n_objects[i])} object(s)")
    return _article(
        fill_template(
            template,
            color=COLORS[scenes.colors[i, k]],
            shape=SHAPES[scenes.shapes[i, k]],
            size=SIZES[scenes.sizes[i, k]],
            where=POSITION_PHRASES[scenes.cells[i, k]],
        )
    )


def relation(cell_a: int, cell_b: int) -> str:
    """Where cell_a is relative to cell_b: 'left'/'right' if the columns differ, else 'above'/'below'."""
    cell_a = require_index("cell_a", cell_a, len(POSITIONS), "grid cells")
    cell_b = require_index("cell_b", cell_b, len(POSITIONS), "grid cells")
    if cell_a == cell_b:
        raise ValueError(f"cell_a and cell_b are the same cell ({cell_a}): two objects never share a cell")
    col_a, col_b, row_a, row_b = cell_a % 3, cell_b % 3, cell_a // 3, cell_b // 3
    if col_a != col_b:
        return "left" if col_a < col_b else "right"
    return "above" if row_a < row_b else "below"


def make_captions(scenes: Scenes, seed: int = 0, template: int | None = None) -> list[str]:
    """One caption per scene. Single-object scenes use CAPTION_TEMPLATES (a random one per scene,
    or the given index); multi-object scenes list their objects and the relation of the first two."""
    require_scenes("scenes", scenes)
    seed = require_int("seed", seed, low=0)
    if template is not None:
        require_int("template", template, low=0, high=len(CAPTION_TEMPLATES) - 1)
    rng = np.random.default_rng(seed)
    choices = rng.integers(0, len(CAPTION_TEMPLATES), size=len(scenes))
    captions = []
    n_objects = scenes.n_objects
    for i in range(len(scenes)):
        n = int(n_objects[i])
        if n == 1:
            t = CAPTION_TEMPLATES[choices[i] if template is None else template]
            captions.append(describe_object(scenes, i, 0, t))
            continue
        names = [describe_object(scenes, i, k, "a {size} {color} {shape}") for k in range(n)]
        rel = relation(int(scenes.cells[i, 0]), int(scenes.cells[i, 1]))
        text = f"{names[0]} {LINKS[rel]} {names[1]}"
        captions.append(text + (f" and {names[2]}" if n == 3 else ""))
    return captions


def make_descriptions(scenes: Scenes, seed: int = 0) -> list[str]:
    """One full description per scene: every object with its size, colour, shape and place, in a seeded random
    order, joined by "and" ("a small red circle on the left and a large blue square in the center"). Unlike a
    caption it names every object's cell: the context the reading LM answers from (notebook 06, section 7)."""
    require_scenes("scenes", scenes)
    rng = np.random.default_rng(require_int("seed", seed, low=0))
    return [" and ".join(describe_object(scenes, i, int(k), "a {size} {color} {shape} {where}")
                         for k in rng.permutation(int(n))) for i, n in enumerate(scenes.n_objects)]


# ---- multi-object captions as data: parse, check against a scene, and their hard negatives ------------

HARD_NEGATIVES: tuple[str, ...] = ("color swap", "shape swap", "relation swap")
SCENE_CAPTION_FORM = "a small red circle left of a large blue square and a green cross (sizes optional)"


@dataclass(frozen=True)
class SceneCaption:
    """A multi-object caption as make_captions writes it: objects (size or None, colour, shape), the first
    `relation` (one of RELATIONS: where) the second; a third object is only named."""

    objects: tuple[tuple[str | None, str, str], ...]
    relation: str

    def text(self) -> str:
        names = [_article(" ".join(w for w in ("a", size, color, shape) if w)) for size, color, shape in self.objects]
        text = f"{names[0]} {LINKS[self.relation]} {names[1]}"
        return text + (f" and {names[2]}" if len(names) == 3 else "")


def parse_scene_caption(caption: str) -> SceneCaption:
    """Parse 'a [size] color shape LINK a [size] color shape [and a [size] color shape]' (LINK: left of,
    right of, above, below); ValueError naming what does not fit."""
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a string such as {SCENE_CAPTION_FORM!r}, got {describe(caption)}")
    words = caption.lower().split()
    links = [i for i, w in enumerate(words) if w in RELATIONS]
    if len(links) != 1:
        raise ValueError(f"caption {caption!r} must name exactly one relation (left of, right of, above, below), "
                         f"as in {SCENE_CAPTION_FORM!r}")
    i = links[0]
    relation = words[i]
    after = i + 2 if relation in ("left", "right") else i + 1
    if relation in ("left", "right") and words[i + 1 : i + 2] != ["of"]:
        raise ValueError(f"caption {caption!r}: write '{relation} of', as in {SCENE_CAPTION_FORM!r}")
    rest = " ".join(words[after:]).split(" and ")
    parts = [" ".join(words[:i])] + rest
    if len(parts) > MAX_OBJECTS:
        raise ValueError(f"caption {caption!r} names {len(parts)} objects; a scene holds at most {MAX_OBJECTS}")
    objects = []
    for part in parts:
        w = [x for x in part.split() if x not in ("a", "an")]
        size = w.pop(0) if len(w) == 3 and w[0] in SIZES else None
        if len(w) != 2 or w[0] not in COLORS or w[1] not in SHAPES:
            raise ValueError(f"caption {caption!r}: {part!r} is not an object; write 'a [size] colour shape' with "
                             f"a size in {SIZES}, a colour in {COLORS} and a shape in {SHAPES}")
        objects.append((size, w[0], w[1]))
    return SceneCaption(tuple(objects), relation)


def caption_is_true(scenes: Scenes, i: int, caption: str) -> bool:
    """Does the multi-object `caption` describe scene `i`: every object it names is in the scene (colour, shape,
    and size when named), and its first object is `relation` of its second (relation(): columns first)?"""
    require_scenes("scenes", scenes)
    i = require_index("i", i, len(scenes), "scenes")
    parsed = parse_scene_caption(caption)
    slots = []
    for size, color, shape in parsed.objects:
        match = (scenes.colors[i] == COLORS.index(color)) & (scenes.shapes[i] == SHAPES.index(shape))
        if size is not None:
            match &= scenes.sizes[i] == SIZES.index(size)
        if not match.any():
            return False
        slots.append(int(np.argmax(match)))
    if len(set(slots)) < len(slots):
        return False
    return relation(int(scenes.cells[i, slots[0]]), int(scenes.cells[i, slots[1]])) == parsed.relation


def names_held_out(caption: str) -> bool:
    """Does `caption` name a held-out composition (HELD_OUT) as 'colour shape'? A swap can create one ('a red
    circle'), and the train split must not mention it even as a negative."""
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a string, got {describe(caption)}")
    words = caption.lower().split()
    return any(pair in HELD_OUT for pair in zip(words, words[1:]))


def swap_caption(caption: str, kind: str, pair: tuple[int, int] = (0, 1)) -> str:
    """A hard negative of a multi-object caption, with the same words in another arrangement. kind (HARD_NEGATIVES):
    'color swap' and 'shape swap' exchange the colours (shapes) of the objects at `pair`; 'relation swap'
    exchanges the first two objects ('X left of Y' -> 'Y left of X'), which reverses their relation. In a Shapes
    World scene no two objects share a colour or a shape, so the result is false of a scene the caption is true of."""
    require_choice("kind", kind, HARD_NEGATIVES)
    parsed = parse_scene_caption(caption)
    objects = list(parsed.objects)
    a, b = (0, 1) if kind == "relation swap" else pair
    for name, k in (("pair[0]", a), ("pair[1]", b)):
        require_index(name, k, len(objects), f"objects in {caption!r}")
    if a == b:
        raise ValueError(f"pair must name two different objects, got {pair}")
    if kind == "relation swap":
        objects[a], objects[b] = objects[b], objects[a]
    else:
        field = 1 if kind == "color swap" else 2
        oa, ob = list(objects[a]), list(objects[b])
        oa[field], ob[field] = ob[field], oa[field]
        objects[a], objects[b] = tuple(oa), tuple(ob)
    return SceneCaption(tuple(objects), parsed.relation).text()


def hard_negative_captions(scenes: Scenes, kind: str, seed: int = 0) -> list[str]:
    """One hard negative (swap_caption of kind `kind`) of each multi-object scene's make_captions caption. The
    attribute swaps use a seeded random pair of the scene's objects (in a 2-object scene, the only pair)."""
    require_scenes("scenes", scenes)
    require_choice("kind", kind, HARD_NEGATIVES)
    n_objects = scenes.n_objects
    if len(scenes) == 0 or (n_objects < 2).any():
        raise ValueError("hard negatives need scenes with 2 or 3 objects (generate_scenes(..., min_objects=2, "
                         f"max_objects=3)); got object counts {sorted(set(n_objects.tolist()))}")
    rng = np.random.default_rng(require_int("seed", seed, low=0))
    pairs = [((0, 1), (0, 2), (1, 2))[k] for k in rng.integers(0, 3, size=len(scenes))]
    pairs = [p if n == 3 else (0, 1) for p, n in zip(pairs, n_objects)]
    return [swap_caption(c, kind, p) for c, p in zip(make_captions(scenes), pairs)]


def prompts(template: str = "a photo of a {color} {shape}") -> list[str]:
    """One prompt per colour-shape class, in label order."""
    return [_article(fill_template(template, color=c, shape=s)) for c, s in ALL_COMPOSITIONS]


@dataclass(frozen=True)
class QA:
    """One visual question about scene `scene` with a short exact answer."""

    scene: int
    kind: str
    question: str
    answer: str


def make_vqa(scenes: Scenes, seed: int = 0, kinds: Sequence[str] = QUESTION_TYPES) -> list[QA]:
    """Question-answer pairs: one of each kind per scene ('relation' needs two objects).

    'exists' asks about a present object or an absent composition with equal odds.
    """
    require_scenes("scenes", scenes)
    seed = require_int("seed", seed, low=0)
    for kind in require_sequence("kinds", kinds):
        require_choice("kinds", kind, QUESTION_TYPES)
    rng = np.random.default_rng(seed)
    out: list[QA] = []
    for i in range(len(scenes)):
        n = int(scenes.n_objects[i])
        k = int(rng.integers(0, n))
        c, s = COLORS[scenes.colors[i, k]], SHAPES[scenes.shapes[i, k]]
        for kind in kinds:
            if kind == "color":
                out.append(QA(i, kind, f"what color is the {s} ?", c))
            elif kind == "shape":
                out.append(QA(i, kind, f"what shape is the {c} object ?", s))
            elif kind == "size":
                out.append(QA(i, kind, f"what size is the {c} {s} ?", SIZES[scenes.sizes[i, k]]))
            elif kind == "position":
                out.append(QA(i, kind, f"where is the {c} {s} ?", POSITIONS[scenes.cells[i, k]]))
            elif kind == "count":
                out.append(QA(i, kind, "how many objects are there ?", COUNT_WORDS[n]))
            elif kind == "exists":
                present = {(int(a), int(b)) for a, b in zip(scenes.colors[i, :n], scenes.shapes[i, :n])}
                if rng.random() < 0.5:
                    qc, qs = c, s
                else:
                    absent = [(a, b) for a in range(len(COLORS)) for b in range(len(SHAPES)) if (a, b) not in present]
                    a, b = absent[int(rng.integers(len(absent)))]
                    qc, qs = COLORS[a], SHAPES[b]
                answer = "yes" if (COLORS.index(qc), SHAPES.index(qs)) in present else "no"
                out.append(QA(i, kind, _article(f"is there a {qc} {qs} ?"), answer))
            elif kind == "relation" and n >= 2:
                a, b = rng.choice(n, size=2, replace=False)
                name_a = f"{COLORS[scenes.colors[i, a]]} {SHAPES[scenes.shapes[i, a]]}"
                name_b = f"{COLORS[scenes.colors[i, b]]} {SHAPES[scenes.shapes[i, b]]}"
                out.append(QA(i, kind, f"where is the {name_a} relative to the {name_b} ?",
                              relation(int(scenes.cells[i, a]), int(scenes.cells[i, b]))))
    return out


_C, _S = "|".join(COLORS), "|".join(SHAPES)
# make_vqa's question forms, as patterns over its slots (a typed question is answered only in these forms)
QUESTION_FORMS: dict[str, re.Pattern] = {
    "color": re.compile(rf"what colou?r is the (?P<s>{_S}) \?"),
    "shape": re.compile(rf"what shape is the (?P<c>{_C}) object \?"),
    "size": re.compile(rf"what size is the (?P<c>{_C}) (?P<s>{_S}) \?"),
    "relation": re.compile(rf"where is the (?P<c>{_C}) (?P<s>{_S}) relative to the (?P<c2>{_C}) (?P<s2>{_S}) \?"),
    "position": re.compile(rf"where is the (?P<c>{_C}) (?P<s>{_S}) \?"),
    "count": re.compile(r"how many objects are there \?"),
    "exists": re.compile(rf"is there an? (?P<c>{_C}) (?P<s>{_S}) \?"),
}


def true_answer(scenes: Scenes, i: int, question: str) -> tuple[str | None, str]:
    """(answer, note) to a question in one of make_vqa's forms (QUESTION_FORMS) about scene `i`, read from the
    scene's objects; answer None, with the reason in `note`, when the form is unknown or the question names an
    object that is absent or not unique."""
    require_scenes("scenes", scenes)
    i = require_int("i", i, low=0, high=len(scenes) - 1)
    if not isinstance(question, str):
        raise TypeError(f"question must be a string such as 'what color is the circle ?', got {describe(question)}")
    text = " ".join(question.lower().replace("?", " ?").split())
    n = int(scenes.n_objects[i])
    objects = [(COLORS[scenes.colors[i, k]], SHAPES[scenes.shapes[i, k]]) for k in range(n)]
    for kind, form in QUESTION_FORMS.items():
        m = form.fullmatch(text)
        if m is None:
            continue
        slots = m.groupdict()
        if kind == "count":
            return COUNT_WORDS[n], ""
        if kind == "exists":
            return ("yes" if (slots["c"], slots["s"]) in objects else "no"), ""
        named = [[k for k, (c, s) in enumerate(objects) if slots.get(ck, c) == c and slots.get(sk, s) == s]
                 for ck, sk in (("c", "s"), ("c2", "s2")) if ck in slots or sk in slots]
        if any(len(ks) != 1 for ks in named):
            return None, "the question names an object that is not in the scene, or not only once"
        k = named[0][0]
        if kind == "color":
            return objects[k][0], ""
        if kind == "shape":
            return objects[k][1], ""
        if kind == "size":
            return SIZES[scenes.sizes[i, k]], ""
        if kind == "position":
            return POSITIONS[scenes.cells[i, k]], ""
        if named[1][0] == k:
            return None, "the question relates an object to itself"
        return relation(int(scenes.cells[i, k]), int(scenes.cells[i, named[1][0]])), ""
    return None, "not one of the course's question forms (shapes_world.QUESTION_FORMS)"


@dataclass(frozen=True)
class Clips:
    """Short clips of one object moving in a straight line and bouncing off the walls.

    frames: (N, T, S, S, 3) uint8; centers: (N, T, 2) float (y, x); colors: (N, T) colour index per frame;
    shapes: (N,); contact_frame: (N,) first frame at which the object touches a wall;
    color_change_frame: (N,) frame at which its colour changes, -1 if it never does.
    """

    frames: np.ndarray
    centers: np.ndarray
    colors: np.ndarray
    shapes: np.ndarray
    contact_frame: np.ndarray
    color_change_frame: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


def generate_clips(
    n: int,
    seed: int = 0,
    *,
    n_frames: int = 16,
    image_size: int = 32,
    color_change_prob: float = 0.5,
) -> Clips:
    """Generate `n` seeded clips. Each object first touches a wall at a frame drawn uniformly
    from the frames the speed allows, then bounces back; some objects change colour once."""
    n = require_int("n", n, low=1, high=100_000)
    seed = require_int("seed", seed, low=0)
    n_frames = require_int("n_frames", n_frames, low=8, high=64)
    image_size = require_int("image_size", image_size, low=24, high=256)
    require_budget("n, n_frames or image_size", n * n_frames * image_size**2 * 3,
                   f"generate_clips({n}, n_frames={n_frames}, image_size={image_size})")
    if not 0.0 <= float(color_change_prob) <= 1.0:
        raise ValueError(f"color_change_prob must be in [0, 1], got {color_change_prob}")
    rng = np.random.default_rng(seed)
    r = image_size / 10.0
    lo, hi = r, image_size - r
    speed = rng.uniform(1.0, 2.0, size=n) * image_size / 32.0
    last = np.minimum(n_frames - 2, np.floor((hi - lo) / speed)).astype(int)
    contact = np.floor(rng.random(n) * (last - 1)).astype(int) + 2  # in [2, last]
    axis = rng.integers(0, 2, size=n)  # 0: moves vertically, 1: horizontally
    toward_high = rng.random(n) < 0.5
    wall = np.where(toward_high, hi, lo)
    direction = np.where(toward_high, 1.0, -1.0)
    start = wall - direction * speed * contact
    other = rng.uniform(lo, hi, size=n)

    t = np.arange(n_frames)[None, :]
    moved = start[:, None] + direction[:, None] * speed[:, None] * t
    span = hi - lo
    phase = np.mod(moved - lo, 2 * span)  # reflect into [lo, hi]
    coord = lo + np.where(phase <= span, phase, 2 * span - phase)
    centers = np.zeros((n, n_frames, 2))
    centers[np.arange(n), :, axis] = coord
    centers[np.arange(n), :, 1 - axis] = other[:, None]

    shapes = rng.integers(0, len(SHAPES), size=n)
    first = rng.integers(0, len(COLORS), size=n)
    second = (first + rng.integers(1, len(COLORS), size=n)) % len(COLORS)
    changes = rng.random(n) < color_change_prob
    change_frame = np.where(changes, rng.integers(2, n_frames - 1, size=n), -1)
    colors = np.where(changes[:, None] & (t >= change_frame[:, None]), second[:, None], first[:, None])

    frames = draw_objects(
        np.round(centers.reshape(n * n_frames, 1, 2) * 2) / 2,
        np.full((n * n_frames, 1), r),
        np.repeat(shapes, n_frames)[:, None],
        colors.reshape(n * n_frames, 1),
        image_size,
    ).reshape(n, n_frames, image_size, image_size, 3)
    return Clips(frames, centers, colors, shapes, contact, change_frame)


def vocabulary() -> list[str]:
    """Every word Shapes World captions, questions and answers can contain, sorted."""
    texts = list(CAPTION_TEMPLATES) + list(POSITION_PHRASES) + list(POSITIONS) + list(COUNT_WORDS)
    texts += list(COLORS) + list(SHAPES) + list(SIZES) + list(RELATIONS)
    texts += ["left of right of above below and an yes no"]
    texts += [
        "what color is the ?", "what shape is the object ?", "what size is the ?", "where is the ?",
        "how many objects are there ?", "is there a ?", "where is the relative to the ?",
    ]
    words = set()
    for text in texts:
        words.update(re.sub(r"\{\w+\}", " ", text).split())
    return sorted(words)
