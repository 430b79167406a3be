import numpy as np
import pytest

from course_lib import shapes_world as sw


def test_same_seed_gives_identical_scenes_and_other_seed_differs():
    a = sw.generate_scenes(200, seed=3, max_objects=3)
    b = sw.generate_scenes(200, seed=3, max_objects=3)
    c = sw.generate_scenes(200, seed=4, max_objects=3)
    for name in ("images", "colors", "shapes", "sizes", "cells"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.images, c.images)


def test_scene_arrays_have_documented_shapes_and_ranges():
    s = sw.generate_scenes(300, seed=0, image_size=48, min_objects=1, max_objects=3)
    assert s.images.shape == (300, 48, 48, 3) and s.images.dtype == np.uint8
    assert set(np.unique(s.n_objects)) == {1, 2, 3}
    present = s.colors >= 0
    assert (present == (s.shapes >= 0)).all() and (present == (s.cells >= 0)).all()
    assert s.cells[present].max() < 9 and s.sizes[present].max() < 2


def test_objects_in_a_scene_never_share_colour_shape_or_cell():
    s = sw.generate_scenes(500, seed=1, max_objects=3)
    for i in range(len(s)):
        n = s.n_objects[i]
        for arr in (s.colors, s.shapes, s.cells):
            assert len(set(arr[i, :n])) == n


@pytest.mark.parametrize("split,held", [("train", False), ("held_out", True)])
def test_splits_keep_held_out_compositions_apart(split, held):
    s = sw.generate_scenes(400, seed=2, max_objects=3, split=split)
    present = s.colors >= 0
    assert (sw.is_held_out(s.colors[present], s.shapes[present]) == held).all()


def test_held_out_split_covers_every_colour_and_shape_still_seen_in_training():
    seen_colors = {c for c, _ in sw.SEEN}
    seen_shapes = {s for _, s in sw.SEEN}
    assert seen_colors == set(sw.COLORS) and seen_shapes == set(sw.SHAPES)
    assert len(sw.HELD_OUT) == len(sw.COLORS) and not set(sw.HELD_OUT) & set(sw.SEEN)


def test_objects_are_drawn_in_their_colour():
    s = sw.generate_scenes(50, seed=5)
    for i in range(len(s)):
        pixels = s.images[i].reshape(-1, 3)
        drawn = pixels[(pixels != 0).any(axis=1)]
        assert len(drawn) > 10
        assert (drawn == sw.COLOR_RGB[s.colors[i, 0]]).all()


def test_thousands_of_scenes_per_second():
    import time

    start = time.perf_counter()
    sw.generate_scenes(4000, seed=0, max_objects=3)
    assert time.perf_counter() - start < 2.0  # generous: about 0.2 s on 2 cores


def test_captions_name_the_objects_and_use_articles():
    s = sw.generate_scenes(100, seed=0, max_objects=3)
    caps = sw.make_captions(s, seed=0)
    assert len(caps) == 100
    for i, cap in enumerate(caps):
        for obj in s.objects(i):
            assert obj["color"] in cap and obj["shape"] in cap
        assert " a orange" not in cap and not cap.startswith("a orange")
    assert sw.make_captions(s, seed=0) == caps


def test_descriptions_name_every_object_with_its_place():
    s = sw.generate_scenes(100, seed=0, max_objects=3)
    descriptions = sw.make_descriptions(s, seed=0)
    for i, text in enumerate(descriptions):
        phrases = [sw.describe_object(s, i, k, "a {size} {color} {shape} {where}") for k in range(s.n_objects[i])]
        assert sorted(text.split(" and ")) == sorted(phrases)
    assert sw.make_descriptions(s, seed=0) == descriptions != sw.make_descriptions(s, seed=1)  # seeded order
    with pytest.raises(TypeError, match="scenes"):
        sw.make_descriptions(s.images)


def test_fixed_template_caption():
    s = sw.generate_scenes(3, seed=0)
    o = s.objects(0)[0]
    expected = f"a photo of a {o['color']} {o['shape']}".replace("a orange", "an orange")
    assert sw.make_captions(s, template=0)[0] == expected


def test_prompts_are_in_label_order():
    p = sw.prompts()
    assert len(p) == len(sw.ALL_COMPOSITIONS) == 30
    assert p[sw.composition_label(1, 2)] == "a photo of a green triangle"
    assert sw.composition_names()[0] == "red circle"


def test_vqa_answers_are_consistent_with_the_scene():
    s = sw.generate_scenes(300, seed=7, max_objects=3)
    qa = sw.make_vqa(s, seed=0)
    kinds = {q.kind for q in qa}
    assert kinds == set(sw.QUESTION_TYPES)
    for q in qa:
        objs = s.objects(q.scene)
        if q.kind == "count":
            assert q.answer == sw.COUNT_WORDS[len(objs)]
        elif q.kind == "color":
            shape = q.question.split()[-2]
            assert [o["color"] for o in objs if o["shape"] == shape] == [q.answer]
        elif q.kind == "exists":
            c, sh = q.question.split()[-3:-1]
            assert (q.answer == "yes") == any(o["color"] == c and o["shape"] == sh for o in objs)
        elif q.kind == "relation":
            assert len(objs) >= 2 and q.answer in sw.RELATIONS
    exists = [q.answer for q in qa if q.kind == "exists"]
    assert 0.35 < exists.count("yes") / len(exists) < 0.65


def test_relation_rule():
    assert sw.relation(0, 2) == "left" and sw.relation(5, 3) == "right"
    assert sw.relation(1, 7) == "above" and sw.relation(7, 1) == "below"


def test_every_caption_and_question_word_is_in_the_vocabulary():
    vocab = set(sw.vocabulary())
    s = sw.generate_scenes(300, seed=0, max_objects=3, split="all")
    texts = sw.make_captions(s) + [q.question + " " + q.answer for q in sw.make_vqa(s)]
    texts += [sw.make_captions(s, template=t)[0] for t in range(len(sw.CAPTION_TEMPLATES))]
    words = {w for t in texts for w in t.split()}
    assert words <= vocab, words - vocab


def test_clips_touch_the_wall_at_the_labelled_frame():
    c = sw.generate_clips(200, seed=0, n_frames=16, image_size=32)
    assert c.frames.shape == (200, 16, 32, 32, 3) and c.frames.dtype == np.uint8
    r, size = 32 / 10.0, 32
    gap = np.minimum(c.centers - r, size - r - c.centers).min(axis=2)  # (N, T) distance to the nearest wall
    for i in range(len(c)):
        f = c.contact_frame[i]
        assert 2 <= f < 16 and gap[i, f] < 1e-6 and (gap[i, :f] > 1e-6).all()
    changed = c.color_change_frame >= 0
    assert 0.3 < changed.mean() < 0.7
    i = int(np.argmax(changed))
    f = c.color_change_frame[i]
    assert c.colors[i, f] != c.colors[i, f - 1]


def test_clips_are_deterministic():
    a, b = sw.generate_clips(20, seed=9), sw.generate_clips(20, seed=9)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.contact_frame, b.contact_frame)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"n": 0}, ValueError, r"n must be in \[1"),
        ({"n": 2.5}, TypeError, "n must be an integer, got float 2.5"),
        ({"n": 5, "seed": -1}, ValueError, "seed must be in"),
        ({"n": 5, "image_size": 8}, ValueError, "image_size must be in"),
        ({"n": 5, "max_objects": 4}, ValueError, r"max_objects must be in \[1, 3\], got 4"),
        ({"n": 5, "min_objects": 3, "max_objects": 2}, ValueError, "min_objects"),
        ({"n": 5, "split": "test"}, ValueError, r"split must be one of \['train', 'held_out', 'all'\], got 'test'"),
    ],
)
def test_generate_scenes_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        sw.generate_scenes(**kwargs)


def test_other_bad_inputs():
    s = sw.generate_scenes(2, seed=0)
    with pytest.raises(ValueError, match="i must be in"):
        s.objects(5)
    with pytest.raises(ValueError, match="template must be in"):
        sw.make_captions(s, template=99)
    with pytest.raises(ValueError, match="kinds must be one of"):
        sw.make_vqa(s, kinds=("colour",))
    with pytest.raises(ValueError, match="color_change_prob"):
        sw.generate_clips(2, color_change_prob=1.5)
    with pytest.raises(ValueError, match="n_frames"):
        sw.generate_clips(2, n_frames=4)


def test_render_draws_one_object_and_validates():
    img = sw.draw_objects(np.array([[[10.0, 10.0]]]), np.array([[4.0]]), np.array([[0]]), np.array([[2]]), 24)
    assert img.shape == (1, 24, 24, 3) and (img[0, 10, 10] == sw.COLOR_RGB[2]).all() and (img[0, 0, 0] == 0).all()
    with pytest.raises(ValueError, match=r"colors must have shape \(1, 1\)"):
        sw.draw_objects(np.zeros((1, 1, 2)), np.ones((1, 1)), np.zeros((1, 1), int), np.zeros((1, 2), int), 24)
    with pytest.raises(ValueError, match="shapes must be 2-D"):
        sw.draw_objects(np.zeros((1, 1, 2)), np.ones((1, 1)), np.zeros(1, int), np.zeros(1, int), 24)


def test_labels_and_held_out_lookup():
    assert sw.composition_label(np.array([0, 5]), np.array([0, 4])).tolist() == [0, 29]
    assert sw.is_held_out(np.array([0, 0]), np.array([0, 1])).tolist() == [True, False]
    s = sw.generate_scenes(10, seed=0)
    assert (s.labels == s.colors[:, 0] * 5 + s.shapes[:, 0]).all()
    assert len(s.subset(np.arange(10) < 4)) == 4


def test_off_palette_colors_never_look_like_a_held_out_composition():
    shapes = np.repeat(np.arange(len(sw.SHAPES)), 400)
    rgb = sw.off_palette_colors(shapes, seed=0)
    assert rgb.shape == (len(shapes), 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb, sw.off_palette_colors(shapes, seed=0))
    assert not sw.is_held_out(sw.nearest_palette_color(rgb), shapes).any()
    assert len(np.unique(rgb, axis=0)) > 1900  # really random, not the palette


def test_nearest_palette_color():
    assert sw.nearest_palette_color(sw.COLOR_RGB).tolist() == list(range(len(sw.COLORS)))
    nudged = np.clip(sw.COLOR_RGB.astype(int) + 9, 0, 255).astype(np.uint8)
    assert sw.nearest_palette_color(nudged).tolist() == list(range(len(sw.COLORS)))
    with pytest.raises(ValueError, match=r"shape \(\*, 3\), got \(2, 4\)"):
        sw.nearest_palette_color(np.zeros((2, 4), dtype=np.uint8))


def test_off_palette_colors_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        sw.off_palette_colors(np.array([0, 7]), seed=0)
    with pytest.raises(TypeError, match="integer"):
        sw.off_palette_colors(np.array([0.5]), seed=0)


def test_repaint_changes_only_object_pixels():
    scenes = sw.generate_scenes(4, seed=1)
    colors = np.array([[1, 2, 3]] * 4, dtype=np.uint8)
    out = sw.repaint(scenes.images, colors)
    obj = (scenes.images != sw.BACKGROUND).any(-1)
    assert (out[obj] == [1, 2, 3]).all() and np.array_equal(out[~obj], scenes.images[~obj])
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        sw.repaint(scenes.images, colors[:2])


@pytest.mark.parametrize("split", ["train", "held_out"])
def test_every_hard_negative_is_false_for_its_image_and_keeps_the_words(split):
    scenes = sw.generate_scenes(1500, seed=21, min_objects=2, max_objects=3, split=split)
    captions = sw.make_captions(scenes)
    assert all(sw.caption_is_true(scenes, i, c) for i, c in enumerate(captions))
    for kind in sw.HARD_NEGATIVES:
        negatives = sw.hard_negative_captions(scenes, kind, seed=3)
        assert not any(sw.caption_is_true(scenes, i, c) for i, c in enumerate(negatives)), kind
        assert all(sorted(t.split()) == sorted(n.split()) and t != n for t, n in zip(captions, negatives)), kind


def test_swaps_of_a_typed_caption():
    caption = "a red circle left of a blue square and a green cross"
    assert sw.swap_caption(caption, "color swap") == "a blue circle left of a red square and a green cross"
    assert sw.swap_caption(caption, "shape swap", pair=(1, 2)) == "a red circle left of a blue cross and a green square"
    assert sw.swap_caption(caption, "relation swap") == "a blue square left of a red circle and a green cross"
    assert sw.parse_scene_caption("Small Red circle above an orange square").objects == (
        ("small", "red", "circle"), (None, "orange", "square"))


def test_caption_checks_size_and_relation():
    scenes = sw.generate_scenes(1, seed=2, min_objects=2, max_objects=2)
    (a, b) = scenes.objects(0)
    rel = sw.relation(int(scenes.cells[0, 0]), int(scenes.cells[0, 1]))
    other = {"small": "large", "large": "small"}[a["size"]]
    true = f"a {a['color']} {a['shape']} {sw.LINKS[rel]} a {b['color']} {b['shape']}"
    assert sw.caption_is_true(scenes, 0, true)
    assert not sw.caption_is_true(scenes, 0, f"a {other} {true[2:]}")
    flipped = {"left": "right", "right": "left", "above": "below", "below": "above"}[rel]
    assert not sw.caption_is_true(scenes, 0, true.replace(sw.LINKS[rel], sw.LINKS[flipped]))


@pytest.mark.parametrize("caption, match", [
    ("a red circle", "exactly one relation"),
    ("a red circle on the left", "left of"),
    ("a red circle left of a pink square", "'a pink square' is not an object"),
    ("a red circle left of a blue square and a green cross and a red diamond", "at most 3"),
    (42, "caption must be a string"),
])
def test_scene_caption_bad_input(caption, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sw.parse_scene_caption(caption)


def test_hard_negative_bad_input():
    with pytest.raises(ValueError, match="kind must be one of"):
        sw.swap_caption("a red circle left of a blue square", "size swap")
    with pytest.raises(ValueError, match="pair"):
        sw.swap_caption("a red circle left of a blue square", "color swap", pair=(0, 2))
    with pytest.raises(ValueError, match="2 or 3 objects"):
        sw.hard_negative_captions(sw.generate_scenes(3, seed=0), "color swap")


def test_true_answer_agrees_with_make_vqa_and_refuses_what_it_cannot_answer():
    scenes = sw.generate_scenes(400, seed=21)
    qa = sw.make_vqa(scenes, seed=21)
    assert all(sw.true_answer(scenes, q.scene, q.question) == (q.answer, "") for q in qa)
    one = int(np.flatnonzero(scenes.n_objects == 1)[0])
    c, s_ = sw.COLORS[scenes.colors[one, 0]], sw.SHAPES[scenes.shapes[one, 0]]
    assert sw.true_answer(scenes, one, f"What colour is the {s_}?") == (c, "")  # case, spacing, British spelling
    other = next(x for x in sw.SHAPES if x != s_)
    answer, note = sw.true_answer(scenes, one, f"what color is the {other} ?")
    assert answer is None and "not in the scene" in note
    answer, note = sw.true_answer(scenes, one, f"where is the {c} {s_} relative to the {c} {s_} ?")
    assert answer is None and "itself" in note
    assert sw.true_answer(scenes, one, "is the circle happy ?")[0] is None
    with pytest.raises(TypeError, match="question must be a string"):
        sw.true_answer(scenes, one, None)
    with pytest.raises(ValueError, match="i must be"):
        sw.true_answer(scenes, 400, "how many objects are there ?")


def test_cell_patches_cover_the_patch_grid_once():
    assert sw.cell_patches(0) == [0, 1, 6, 7] and sw.cell_patches(8) == [28, 29, 34, 35]
    assert sorted(p for c in range(9) for p in sw.cell_patches(c)) == list(range(36))
    assert sw.cell_patches(4, grid=3) == [4]
    with pytest.raises(ValueError, match="multiple of 3"):
        sw.cell_patches(0, grid=8)
    with pytest.raises(ValueError, match="cell"):
        sw.cell_patches(9)
