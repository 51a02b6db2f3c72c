library(testthat)
library(seqATAC)

test_check("seqATAC")
