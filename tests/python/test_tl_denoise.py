"""seqatac.tl.denoise with any model that provides predictor(), genome, seq_len and cell_names."""

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from seqatac import SeqatacInputError
from seqatac.data import Genome, one_hot
from seqatac.tl import denoise
from test_tl_predict import PositionWeights


class FakeModel:
    seq_len = 12

    def __init__(self, genome, cells):
        self.genome, self.cell_names = genome, cells
        self.network = PositionWeights(n_outputs=len(cells), length=12, seed=2)
        self.network.norm = torch.nn.Identity()

    def predictor(self, output):
        assert output == "denoised"
        return torch.nn.Sequential(self.network, torch.nn.Sigmoid())


def _data():
    rng = np.random.default_rng(0)
    genome = Genome.from_dict({"chrA": "".join(rng.choice(list("ACGT"), 400))})
    starts = np.arange(0, 380, 19)
    var = pd.DataFrame({"chrom": "chrA", "start": starts, "end": starts + 8},
                       index=[f"chrA:{s}-{s + 8}" for s in starts])
    cells = pd.Index([f"c{i}" for i in range(3)])
    adata = ad.AnnData(X=sp.random(3, len(starts), density=0.3, format="csr", random_state=0, dtype=np.float32),
                       obs=pd.DataFrame(index=cells), var=var)
    return adata, FakeModel(genome, cells)


def _expected(adata, model):
    codes = model.genome.encode_regions(adata.var[["chrom", "start", "end"]], width=12)
    with torch.no_grad():
        return model.predictor("denoised")(torch.from_numpy(one_hot(codes))).numpy().T


def test_layer_and_streamed_file_hold_the_same_values(tmp_path):
    adata, model = _data()
    expected = _expected(adata, model)
    denoise(adata, model, layer="denoised", chunk_size=3, batch_size=2, verbose=False)
    np.testing.assert_allclose(adata.layers["denoised"], expected, rtol=1e-5, atol=1e-6)
    denoise(adata, model, file=tmp_path / "out.h5", peaks=[0, 5, 7], chunk_size=2, verbose=False)
    with h5py.File(tmp_path / "out.h5") as handle:
        np.testing.assert_allclose(handle["denoised"][:], expected[:, [0, 5, 7]], rtol=1e-5, atol=1e-6)
        assert [n.decode() for n in handle["obs_names"][:]] == ["c0", "c1", "c2"]
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_denoise_checks_cells_and_arguments(tmp_path):
    adata, model = _data()
    with pytest.raises(SeqatacInputError, match="same order"):
        denoise(adata[::-1].copy(), model, layer="x", verbose=False)
    with pytest.raises(SeqatacInputError, match="selected peaks"):
        denoise(adata, model, layer="x", peaks=[0], verbose=False)
    with pytest.raises(SeqatacInputError, match="not in adata.var_names"):
        denoise(adata, model, file=tmp_path / "x.h5", peaks=["chrZ:1-2"], verbose=False)
    with pytest.raises(SeqatacInputError, match="no peaks to denoise"):
        denoise(adata[:, :0].copy(), model, file=tmp_path / "x.h5", verbose=False)
    assert not (tmp_path / "x.h5").exists()
    model.genome = None
    with pytest.raises(SeqatacInputError, match="has no genome"):
        denoise(adata, model, file=tmp_path / "x.h5", verbose=False)
