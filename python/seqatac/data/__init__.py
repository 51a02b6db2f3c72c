"""Data layer: reading and validating scATAC data, peak regions, genome sequences, motifs, shuffles."""

# --- AnnData / file I/O and validation (owned by _io.py, _regions.py) ---
from ._regions import parse_regions
from ._io import (
    add_peak_coordinates,
    binarize,
    check_paired_rna,
    filter_cells,
    filter_peaks,
    read_atac,
    read_multiome,
    validate_atac,
)
# --- genome, sequence encoding, motifs, shuffles (owned by _genome.py, _sequence.py, _motifs.py, _shuffle.py) ---
from ._sequence import ALPHABET, N_CODE, decode_sequence, encode_sequence, gc_content, one_hot, reverse_complement
from ._genome import Genome, write_fasta
from ._motifs import (
    Motif,
    jaspar,
    motif_matches,
    motif_scores,
    read_homer,
    read_jaspar,
    read_meme,
    read_motifs,
    score_threshold,
)
from ._shuffle import dinucleotide_shuffle
