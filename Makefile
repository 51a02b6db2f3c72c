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

# Build the R package (vignette included) and run R CMD check on the tarball, which also runs the
# testthat suite, with the project's virtualenv as the Python backend. Fails on any ERROR or WARNING.
R_PKG_VERSION := $(shell sed -n 's/^Version: //p' DESCRIPTION)
# R CMD build copies its whole directory (.venv included) before applying .Rbuildignore, so it builds
# from a staging copy of the package files only.
R_SOURCES := DESCRIPTION NAMESPACE LICENSE README.md .Rbuildignore R man inst vignettes
R_STAGE := $(RLIB)/stage/seqATAC
test-r: export SEQATAC_PYTHON := $(abspath $(VPY))
test-r: export _R_CHECK_FORCE_SUGGESTS_ := false
test-r: install r-deps
	rm -rf $(R_STAGE) && mkdir -p $(R_STAGE)/tests
	cp -r $(wildcard $(R_SOURCES)) $(R_STAGE)/ && cp -r tests/testthat tests/testthat.R $(R_STAGE)/tests/
	R CMD build $(R_STAGE) >/dev/null
	R CMD check --no-manual --no-build-vignettes seqATAC_$(R_PKG_VERSION).tar.gz || \
		{ cat seqATAC.Rcheck/tests/testthat.Rout.fail 2>/dev/null; exit 1; }
	@grep -qE '^Status: (OK|[0-9]+ NOTEs?)$$' seqATAC.Rcheck/00check.log || \
		{ echo "R CMD check reported a WARNING or ERROR (see seqATAC.Rcheck/00check.log)"; exit 1; }

bench: install
	$(VPY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(RLIB) seqATAC_*.tar.gz seqATAC.Rcheck $(DEMO_OUT)
