"""Data layer: reading and validating scATAC data, peak regions, gene annotations, genome sequences, motifs,
shuffles."""

from ._filters import binarize, filter_cells, filter_peaks
from ._genes import gene_annotation
from ._genome import Genome, write_fasta
from ._motif_compare import compare_motifs, motif_similarity
from ._motif_files import read_homer, read_jaspar, read_meme, read_motifs
from ._motif_scan import motif_matches, motif_scores, score_threshold
from ._motifs import Motif, jaspar, motif_columns, motif_labels
from ._readers import read_atac, read_h5ad, read_multiome
from ._regions import (
    chromosome_key,
    coordinate_columns,
    overlapping_pairs,
    parse_regions,
)
from ._sequence import (
    ALPHABET,
    N_CODE,
    PAD_CODE,
    check_codes,
    codes_to_onehot,
    decode_sequence,
    encode_sequence,
    gc_content,
    one_hot,
    reverse_complement,
)
from ._shuffle import dinucleotide_shuffle
from ._validate import (
    add_peak_coordinates,
    check_counts,
    check_labels,
    check_paired_rna,
    layer_matrix,
    missing_labels,
    validate_atac,
)

__all__ = [
    # AnnData / files
    "read_atac",
    "read_multiome",
    "read_h5ad",
    "validate_atac",
    "check_counts",
    "check_labels",
    "missing_labels",
    "layer_matrix",
    "add_peak_coordinates",
    "parse_regions",
    "coordinate_columns",
    "chromosome_key",
    "overlapping_pairs",
    "binarize",
    "filter_peaks",
    "filter_cells",
    "check_paired_rna",
    "gene_annotation",
    # sequences and genome
    "ALPHABET",
    "N_CODE",
    "PAD_CODE",
    "encode_sequence",
    "decode_sequence",
    "one_hot",
    "codes_to_onehot",
    "reverse_complement",
    "gc_content",
    "check_codes",
    "Genome",
    "write_fasta",
    # motifs
    "Motif",
    "jaspar",
    "read_motifs",
    "read_meme",
    "read_jaspar",
    "read_homer",
    "motif_scores",
    "motif_columns",
    "motif_labels",
    "motif_matches",
    "score_threshold",
    "motif_similarity",
    "compare_motifs",
    "dinucleotide_shuffle",
]
