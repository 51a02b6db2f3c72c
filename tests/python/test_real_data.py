"""The real fixtures in shared/data go through the whole baseline path (read → filter → LSI → metrics)."""

import numpy as np
from seqatac.baselines import lsi
from seqatac.data import filter_peaks, read_atac
from seqatac.metrics import label_score
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score


def test_lsi_separates_gm12878_from_h1_in_example_counts(shared_data):
    adata = read_atac(shared_data / "example_counts.h5ad")
    filter_peaks(adata, min_cells=1)
    lsi(adata, n_components=10, random_state=0)
    labels = adata.obs["Cell_Type"].to_numpy()
    clusters = KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(adata.obsm["X_lsi"])
    assert adjusted_rand_score(labels, clusters) >= 0.9
    assert label_score(adata.obsm["X_lsi"], labels, k=10) >= 0.9


def test_atac_small_clusters_are_neighbours_in_lsi(shared_data):
    adata = read_atac(shared_data / "atac_small_peaks.h5ad")
    lsi(adata, n_components=10, random_state=0)
    assert adata.obsm["X_lsi"].shape == (100, 10)
    labels = adata.obs["seurat_clusters"].to_numpy()
    # Signac's clustering of these 100 cells came from the full peak set; 323 peaks still carry it
    share = label_score(adata.obsm["X_lsi"], labels, k=10)
    chance = max(np.mean(labels == label) for label in np.unique(labels))
    assert share > chance
