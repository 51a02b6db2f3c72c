# seqatac: `make demo` and `make test` set up everything they need on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
RLIB := .Rlib
R_DEBS := r-base-core r-cran-reticulate r-bioc-singlecellexperiment r-bioc-basilisk r-cran-seuratobject \
          r-cran-testthat r-cran-knitr r-cran-rmarkdown r-bioc-biocstyle r-cran-roxygen2
R_PKGS := reticulate SingleCellExperiment basilisk SeuratObject testthat knitr rmarkdown BiocStyle roxygen2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= demo_out

.PHONY: install r-deps demo test test-python test-r bench clean

install: $(PY_STAMP)

# The virtualenv is rebuilt only when the dependency declarations change.
$(PY_STAMP): pyproject.toml constraints.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $@

# Debian's R stack (CRAN/Bioconductor are unreachable from the build machines).
r-deps:
	@if command -v Rscript >/dev/null && Rscript -e 'q(status = !all(sapply(strsplit("$(R_PKGS)", " ")[[1]], requireNamespace, quietly = TRUE)))' >/dev/null 2>&1; then \
		echo "R packages present"; \
	else \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(R_DEBS) >/dev/null; \
	fi

demo: install
	$(VENV)/bin/seqatac demo --out $(DEMO_OUT)

test: test-python test-r

test-python: install
	$(VPY) -m pytest tests/python -q

# Build the R package, install it into a project-local library and run its testthat suite with the
# project's virtualenv as the Python backend.
test-r: install r-deps
	@mkdir -p $(RLIB)
	R CMD build --no-build-vignettes . >/dev/null
	R CMD INSTALL --no-test-load --library=$(RLIB) seqATAC_*.tar.gz >/dev/null
	SEQATAC_PYTHON=$(abspath $(VPY)) R_LIBS=$(abspath $(RLIB)) Rscript -e 'testthat::test_dir("tests/testthat", package = "seqATAC", load_package = "installed", reporter = "summary", stop_on_failure = TRUE)'

bench: install
	$(VPY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(RLIB) seqATAC_*.tar.gz seqATAC.Rcheck $(DEMO_OUT)
