"""scBasset's opt-in fast recipe (issue 18): LSI-started cell embedding, warmed-up cell-head learning rate."""

import numpy as np
import pytest
from seqatac import SeqatacInputError
from seqatac.baselines import lsi
from seqatac.metrics import label_score
from seqatac.models import ScBasset
from seqatac.simulate import simulate_atac

# a narrow tower keeps the test short; the recipe only touches the cell head
SMALL_NET = {"n_filters_init": 16, "n_tower_layers": 2, "n_filters_pre_bottleneck": 16, "bottleneck_size": 16}


@pytest.fixture(scope="module")
def tiny():
    sim = simulate_atac("tiny", random_state=0, rna=False)
    ScBasset.setup_anndata(sim.atac)
    return sim


def _fit(sim, recipe, *, seed=0, **kwargs):
    model = ScBasset(sim.atac, sim.genome, random_state=seed, **SMALL_NET)
    model.fit(max_steps=8, recipe=recipe, n_threads=1, verbose=False, early_stopping=False, **kwargs)
    return model


def test_fast_recipe_separates_cell_types_where_the_authors_recipe_does_not(tiny):
    labels = tiny.atac.obs["cell_type"].astype(str).to_numpy()
    chance = float(np.sum((np.unique(labels, return_counts=True)[1] / len(labels)) ** 2))
    reference = lsi(tiny.atac, random_state=0, copy=True).obsm["X_lsi"]
    lsi_score = label_score(reference, labels, k=10)
    authors = label_score(_fit(tiny, "authors").get_latent_representation(), labels, k=10)
    fast = label_score(_fit(tiny, "fast").get_latent_representation(), labels, k=10)
    # same 8 Adam steps (about one epoch of tiny): the authors' embedding is still near chance,
    # the fast one near LSI's
    assert authors < chance + 0.1
    assert fast > authors + 0.2
    assert fast > 0.85 * lsi_score


def test_fast_recipe_is_deterministic_by_seed_and_resumes_exactly(tiny, tmp_path):
    first = _fit(tiny, "fast", seed=3).get_latent_representation()
    again = _fit(tiny, "fast", seed=3).get_latent_representation()
    np.testing.assert_array_equal(first, again)
    other = _fit(tiny, "fast", seed=4).get_latent_representation()
    assert not np.array_equal(first, other)
    # interrupted after 5 steps (inside the head warm-up), resumed to 8 (across the epoch end):
    # the same weights as uninterrupted
    model = ScBasset(tiny.atac, tiny.genome, random_state=3, **SMALL_NET)
    model.fit(max_steps=5, recipe="fast", n_threads=1, verbose=False, early_stopping=False,
              checkpoint_dir=tmp_path, checkpoint_steps=1)
    resumed = ScBasset(tiny.atac, tiny.genome, random_state=3, **SMALL_NET)
    resumed.fit(max_steps=8, recipe="fast", n_threads=1, verbose=False, early_stopping=False,
                checkpoint_dir=tmp_path, checkpoint_steps=1, resume=True)
    np.testing.assert_array_equal(resumed.get_latent_representation(), first)
    # a checkpoint of the fast recipe does not resume an authors'-recipe run
    with pytest.raises(SeqatacInputError, match="cell_init"):
        ScBasset(tiny.atac, tiny.genome, random_state=3, **SMALL_NET).fit(
            max_steps=8, n_threads=1, verbose=False, checkpoint_dir=tmp_path, resume=True)


def test_recipe_options_are_validated(tiny):
    model = ScBasset(tiny.atac, tiny.genome, **SMALL_NET)
    with pytest.raises(SeqatacInputError, match="recipe"):
        model.fit(recipe="quick", max_steps=1, verbose=False)
    with pytest.raises(SeqatacInputError, match="cell_init"):
        model.fit(cell_init="pca", max_steps=1, verbose=False)
    with pytest.raises(SeqatacInputError, match="head_lr"):
        model.fit(head_lr=0.0, max_steps=1, verbose=False)


def test_fast_recipe_keeps_its_lsi_start_while_the_tower_learns(tiny):
    from seqatac.models.scbasset._recipes import initialise_cell_head

    probe = ScBasset(tiny.atac, tiny.genome, random_state=0, **SMALL_NET)
    initialise_cell_head(probe.module, probe._targets, probe.splits["train"], seed=probe._train_seed)
    start = probe.get_latent_representation()[:, 1:].ravel()  # column 0 is the shared direction

    def drift(**kwargs):
        model = ScBasset(tiny.atac, tiny.genome, random_state=0, **SMALL_NET)
        model.fit(max_steps=24, recipe="fast", n_threads=1, verbose=False, early_stopping=False, **kwargs)
        return model, 1 - np.corrcoef(model.get_latent_representation()[:, 1:].ravel(), start)[0, 1]

    fast, kept = drift()
    assert fast.params["training"]["head_lr"] == pytest.approx(fast.params["training"]["lr"] / 100)
    _, moved = drift(head_lr=0.01)  # the head at the tower's learning rate
    assert kept < 1e-3  # measured 1e-6
    assert moved > 5e-3  # measured 0.015


def test_cpu_architecture_is_the_stated_narrower_cropped_tower(tiny):
    from seqatac.models.scbasset import CPU_ARCHITECTURE

    model = ScBasset(tiny.atac, tiny.genome, **CPU_ARCHITECTURE)
    authors = ScBasset(tiny.atac, tiny.genome)
    n = tiny.atac.n_obs
    assert model.module.n_parameters == 903_682 + 33 * n  # the figure in _recipes' docstring
    assert authors.module.n_parameters == 4_513_960 + 33 * n
    assert model.seq_len == 512 and model._peak_codes().shape == (tiny.atac.n_vars, 512)
