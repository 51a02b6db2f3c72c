"""Default AnnData keys written by seqatac (one place, so R and Python agree)."""

# var columns holding peak coordinates (0-based, half-open)
CHROM, START, END = "chrom", "start", "end"

# simulator ground truth
SIMULATION_UNS = "simulation"
CELL_TYPE = "cell_type"
BATCH = "batch"

# baselines
LSI_OBSM = "X_lsi"
LSI_UNS = "lsi"
CHROMVAR_OBSM = "chromvar"
CHROMVAR_UNS = "chromvar"
GENE_ACTIVITY_LAYER = "gene_activity"

# model outputs
SCBASSET_OBSM = "X_scbasset"
SCBASSET_INTERCEPT = "scbasset_intercept"
SCBASSET_TF = "scbasset_tf"
CELLSPACE_OBSM = "X_cellspace"
CELLSPACE_TF = "cellspace_tf"
EPIFOUNDATION_OBSM = "X_epifoundation"

# run parameters and provenance
SEQATAC_UNS = "seqatac"
