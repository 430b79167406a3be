import subprocess
import sys

import ipywidgets
import numpy as np
import pytest
import torch

from course_lib import plots, training, widgets
from course_lib.base import paths, validation
from course_lib.tools.doctor import doctor as run_doctor


def test_non_loopback_connections_fail_in_the_suite_and_in_subprocesses():
    import socket

    with pytest.raises(ConnectionRefusedError, match="blocked"):
        socket.create_connection(("10.255.255.1", 80), timeout=1)
    with pytest.raises(ConnectionRefusedError, match="blocked"):
        socket.getaddrinfo("huggingface.co", 443)
    code = (
        "import socket\n"
        "try:\n    socket.create_connection(('93.184.216.34', 80), timeout=1)\n"
        "except ConnectionRefusedError as e:\n    print('blocked' if 'blocked' in str(e) else e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "blocked", out.stderr


def test_loopback_still_works():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    client.close()
    server.close()


def test_hub_is_offline():
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_data_path_finds_data_from_any_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.DATA_DIR.is_dir() and paths.DATA_DIR == paths.REPO_DIR / "data"
    with pytest.raises(FileNotFoundError, match="not in the course's data folder"):
        paths.data_path("no_such_checkpoint")


def test_doctor_prints_ok_lines(capsys):
    ok = run_doctor()
    out = capsys.readouterr().out
    assert "[OK]   torch" in out and "hub offline" in out
    assert ok == ("[FAIL]" not in out)


def test_validation_messages_say_expected_and_received():
    with pytest.raises(ValueError, match=r"x must be 2-D, got shape \(3,\)"):
        validation.require_array("x", np.zeros(3), ndim=2)
    with pytest.raises(TypeError, match="x must have a uint8 dtype, got float64"):
        validation.require_array("x", np.zeros((2, 2)), dtype="uint8")
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 4\), got \(2, 3\)"):
        validation.require_array("x", torch.zeros(2, 3), shape=(None, 4))
    with pytest.raises(TypeError, match="x must be a numpy array or torch tensor, got list"):
        validation.require_array("x", [1, 2])
    with pytest.raises(ValueError, match="tau must be a finite number > 0, got -1.0"):
        validation.require_positive("tau", -1)
    with pytest.raises(ValueError, match=r"k must be in \[1, 5\], got 9"):
        validation.require_int("k", 9, low=1, high=5)
    validation.require_array("x", torch.zeros(2, 3, dtype=torch.uint8), ndim=2, dtype="uint8")


def test_training_loop_reduces_a_loss_and_validates():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    result = training.train(
        model,
        lambda step: (x, y),
        lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
        steps=200,
        lr=0.05,
        weight_decay=0.0,
        progress=False,
    )
    assert result.steps == 200 and result.losses[-1] < 0.05 * result.losses[0] and result.seconds > 0
    with pytest.raises(ValueError, match="steps must be in"):
        training.train(model, lambda s: None, lambda m, b: None, steps=0, lr=0.1)
    with pytest.raises(ValueError, match="nothing to train"):
        training.train(model, lambda s: None, lambda m, b: None, steps=1, lr=0.1, params=[])
    with pytest.raises(FloatingPointError, match="loss became nan"):
        training.train(
            model,
            lambda s: None,
            lambda m, b: torch.tensor(float("nan"), requires_grad=True),
            steps=1,
            lr=0.1,
            progress=False,
        )


def test_cosine_schedule_warms_up_then_decays():
    assert training.cosine_lr(0, 100, 10) == pytest.approx(0.1)
    assert training.cosine_lr(9, 100, 10) == pytest.approx(1.0)
    assert training.cosine_lr(100, 100, 10) == pytest.approx(0.0)


def test_explore_calls_render_now_and_on_every_change():
    calls = []
    slider = ipywidgets.IntSlider(value=3, min=0, max=10)
    box = widgets.explore(lambda n: calls.append(n) or f"n={n}", n=slider)
    assert box.result == "n=3"
    slider.value = 7
    assert calls == [3, 7] and box.result == "n=7"
    with pytest.raises(ValueError, match="at least one control"):
        widgets.explore(print)
    with pytest.raises(TypeError, match="must be an ipywidgets value widget"):
        widgets.explore(print, n=3)


def test_plots_return_axes_and_validate():
    import matplotlib

    matplotlib.use("Agg")
    assert plots.plot_heatmap(np.eye(3), ["a", "b", "c"], ["a", "b", "c"]).get_title() == ""
    assert plots.plot_loss_curve(np.linspace(3, 1, 200), label="clip").get_xlabel() == "step"
    assert plots.plot_images(np.zeros((3, 8, 8, 3), np.uint8), ["a", "b", "c"]).axes
    with pytest.raises(ValueError, match="got 3 images but 2 titles"):
        plots.plot_images(np.zeros((3, 8, 8, 3), np.uint8), ["a", "b"])
    with pytest.raises(ValueError, match="matrix must be 2-D"):
        plots.plot_heatmap(np.zeros(3))


def test_scene_gallery_shows_captioned_scenes():
    import matplotlib

    matplotlib.use("Agg")
    fig = plots.plot_scene_gallery(n=4, seed=1, max_objects=2, split="held_out")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4


def test_checkpoint_registry_errors_are_clear():
    from course_lib.tools import checkpoints

    with pytest.raises(ValueError, match="unknown checkpoint or study 'nope'; known:"):
        checkpoints.build("nope")
    with pytest.raises(FileNotFoundError, match="rebuilds each one"):
        checkpoints.load_metrics("nope")


def test_torch_threads_restores_the_count_even_on_error():
    import torch

    from course_lib.base.seeding import seed_everything, torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be in"):
        with torch_threads(0):
            pass
    seed_everything(3, threads=None)  # library builders seed without touching threads
    assert torch.get_num_threads() == before


def test_require_pair_names_both_arguments():
    with pytest.raises(ValueError, match="embedding sizes differ: a has 3, b has 4"):
        validation.require_pair("a", torch.zeros(2, 3), "b", torch.zeros(2, 4))
    with pytest.raises(ValueError, match="batch sizes differ: 2 rows in a but 5 in b"):
        validation.require_pair("a", torch.zeros(2, 3), "b", torch.zeros(5, 3), same_rows=True)
    validation.require_pair("a", torch.zeros(2, 3), "b", torch.zeros(5, 3))  # different rows are fine by default


def test_step_seed_is_the_one_batch_seed_rule():
    assert training.step_seed(0, 7) == 7 and training.step_seed(2, 5) == 2 * 1_000_003 + 5


def test_load_shipped_says_how_to_rebuild(tmp_path):
    from transformers import CLIPModel

    from course_lib.models.shipped import load_shipped

    with pytest.raises(FileNotFoundError, match="python -m course_lib.tools.checkpoints tiny_clip"):
        load_shipped(CLIPModel, "tiny_clip", tmp_path)


def test_train_names_its_warmup_a_fraction():
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="warmup_fraction must be in"):
        training.train(model, lambda s: None, lambda m, b: m.weight.sum(), steps=3, lr=0.1, warmup_fraction=3)


def test_no_decay_rule_exempts_biases_norm_gains_and_the_logit_scale():
    from course_lib.models.clip import build_tiny_clip

    model = build_tiny_clip(seed=0, hidden_size=16, layers=1, heads=2, projection_dim=8)
    trainable = list(model.parameters())
    decay, exempt = training.parameter_groups(model, trainable, 0.2, "standard")
    names = {id(p): n for n, p in model.named_parameters()}
    exempt_names = {names[id(p)] for p in exempt["params"]}
    assert decay["weight_decay"] == 0.2 and exempt["weight_decay"] == 0.0
    assert {"logit_scale", "vision_model.embeddings.position_embedding.weight",
            "text_model.embeddings.position_embedding.weight"} <= exempt_names
    assert {n for n in names.values() if n.endswith(".bias") or "layer_norm" in n or "layernorm" in n} <= exempt_names
    decayed = {names[id(p)] for p in decay["params"]}
    assert all(p.ndim >= 2 for p in decay["params"]) and "text_projection.weight" in decayed
    assert "vision_model.embeddings.patch_embedding.weight" in decayed
    assert len(decayed) + len(exempt_names) == len(trainable)
    (only,) = training.parameter_groups(model, trainable, 0.2, "none")
    assert len(only["params"]) == len(trainable) and only["weight_decay"] == 0.2
    (frozen_bias_only,) = training.parameter_groups(model, [model.logit_scale], 0.2, "standard")
    assert frozen_bias_only["weight_decay"] == 0.0
    with pytest.raises(ValueError, match="no_decay must be one of"):
        training.parameter_groups(model, trainable, 0.2, "biases")
