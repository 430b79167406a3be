"""course_lib.recipes: every recipe is frozen, runs its function's keyword arguments, and the named seeds differ."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from course_lib import recipes
from course_lib.models.causal_lm import pretrain_lm, tiny_lm_config
from course_lib.models.clip import tiny_clip_config
from course_lib.models.dual_encoder import train_dual_encoder
from course_lib.models.llava import train_two_stages
from course_lib.studies import small_batch_study
from course_lib.tools.checkpoints import BUILDERS

RUNS = [
    (recipes.CLIP_LIVE, train_dual_encoder),
    (recipes.CLIP_CHECKPOINT, train_dual_encoder),
    (recipes.CLIP_SCENE_CHECKPOINT, train_dual_encoder),
    (recipes.TINY_CLIP_SIZE, tiny_clip_config),
    (recipes.LM_SIZE, tiny_lm_config),
    (recipes.LM_CHECKPOINT, pretrain_lm),
    (recipes.LLAVA_CHECKPOINT, train_two_stages),
    (recipes.LLAVA_LIVE, train_two_stages),
    (recipes.SIGLIP_STUDY, small_batch_study),
]


@pytest.mark.parametrize("recipe, function", RUNS, ids=lambda x: getattr(x, "__name__", type(x).__name__))
def test_recipe_fields_are_keyword_arguments_of_its_function(recipe, function):
    parameters = inspect.signature(function).parameters
    unknown = [f.name for f in dataclasses.fields(recipe) if f.name not in parameters]
    assert not unknown, f"{type(recipe).__name__} has fields {unknown} that {function.__name__} does not take"
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.seed = 1  # type: ignore[misc]


def test_named_seeds_are_distinct():
    values = dataclasses.asdict(recipes.SEEDS)
    assert len(set(values.values())) == len(values), values


def test_every_shipped_checkpoint_has_a_recipe_and_a_builder():
    assert list(recipes.CHECKPOINTS) == list(BUILDERS)
    for name, plan in recipes.CHECKPOINTS.items():
        assert plan.name == name and plan.threads >= 1


def test_live_and_checkpoint_recipes_differ_only_where_they_say():
    changed = {k for k, v in dataclasses.asdict(recipes.CLIP_LIVE).items() if getattr(recipes.CLIP_CHECKPOINT, k) != v}
    assert changed == {"steps"}  # the shipped tiny CLIP is the live recipe, longer
    changed = {
        k for k, v in dataclasses.asdict(recipes.LLAVA_LIVE).items() if getattr(recipes.LLAVA_CHECKPOINT, k) != v
    }
    assert changed == {"stage1_steps", "stage2_steps"}
