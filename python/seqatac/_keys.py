"""Default AnnData keys written by seqatac (one place, so R and Python agree)."""

# var columns holding peak coordinates (0-based, half-open)
CHROM, START, END = "chrom", "start", "end"

# simulator ground truth
SIMULATION_UNS = "simulation"
CELL_TYPE = "cell_type"
BATCH = "batch"
TRUE_TF_ACTIVITY_OBSM = "true_tf_activity"
TRUE_MOTIF_STRENGTH_VARM = "true_motif_strength"

# baselines
LSI_OBSM = "X_lsi"
LSI_UNS = "lsi"
CHROMVAR_OBSM = "chromvar"

# model outputs
SCBASSET_OBSM = "X_scbasset"
SCBASSET_INTERCEPT = "scbasset_intercept"
SCBASSET_TF = "scbasset_tf"
CELLSPACE_OBSM = "X_cellspace"
CELLSPACE_TF = "cellspace_tf"
EPIFOUNDATION_OBSM = "X_epifoundation"
# EpiFoundation: predicted cell type (+ its probability) in obs, predicted expression levels as an RNA layer;
# uns[SEQATAC_UNS][EPIFOUNDATION_UNS] holds "setup", "params" and "peak_mapping"
EPIFOUNDATION_CELL_TYPE = "epifoundation_cell_type"
EPIFOUNDATION_CONFIDENCE = "epifoundation_cell_type_confidence"
EPIFOUNDATION_EXPRESSION = "epifoundation_expression"
EPIFOUNDATION_UNS = "epifoundation"

# label transfer (seqatac.tl.transfer_labels and EpiFoundation.transfer_labels): the label of query cells
# whose confidence falls below min_confidence
UNASSIGNED = "unassigned"

# run parameters and provenance
SEQATAC_UNS = "seqatac"

# scBasset: uns[SEQATAC_UNS][SCBASSET_UNS] holds "setup" (setup_anndata arguments), "params" (model and
# training parameters), "model_dir" (where it was saved) and "tf_motifs" (motif id/name per scbasset_tf column)
SCBASSET_UNS = "scbasset"
SCBASSET_DENOISED = "scbasset_denoised"
