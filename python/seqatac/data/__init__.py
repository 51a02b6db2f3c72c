"""Data layer: reading and validating scATAC data, peak regions, genome sequences, motifs, shuffles."""

from ._genome import Genome, write_fasta
from ._io import (
    add_peak_coordinates,
    binarize,
    check_paired_rna,
    filter_cells,
    filter_peaks,
    read_atac,
    read_h5ad,
    read_multiome,
    validate_atac,
)
from ._motifs import (
    Motif,
    jaspar,
    motif_columns,
    motif_matches,
    motif_scores,
    read_homer,
    read_jaspar,
    read_meme,
    read_motifs,
    score_threshold,
)
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

__all__ = [
    # AnnData / files
    "read_atac",
    "read_multiome",
    "read_h5ad",
    "validate_atac",
    "add_peak_coordinates",
    "parse_regions",
    "coordinate_columns",
    "chromosome_key",
    "overlapping_pairs",
    "binarize",
    "filter_peaks",
    "filter_cells",
    "check_paired_rna",
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
    "motif_matches",
    "score_threshold",
    "dinucleotide_shuffle",
]
